"""Evaluate zero-shot CLIP (no checkpoint) or R-AMT masks; a progress bar
of the test batches goes to stderr."""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

import mmengine
from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.utils import ProgressBar

import rmt_mm  # noqa: F401  (registers components, applies shims)
from rmt_mm.fileio import checkpoint_kind
from rmt_mm.runs import refuse_bad_files
from rmt_mm.runs.launch import (add_common_args, apply_common_args,
                                 close_distributed, init_cpu_distributed)
from rmt_mm.fileio.config_file import read_config

TEST_SUBDIR = 'test'
#: What ``--shots`` (and so ``--seed``'s few-shot draw) changes in a test.
SHOTS_HELP = ('images per class of the training subset that a Tip-Adapter '
              'cache is built from when the checkpoint holds none (its '
              'alpha/beta search: min(K, 4) per class of validation); the '
              'test split is always evaluated whole')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The command line of ``tools/test.py``."""
    parser = argparse.ArgumentParser(
        description='Evaluate a CLIP with R-AMT masks')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='a mask file (masks_*.pth) or a resume checkpoint; omit it '
        'for zero-shot CLIP')
    parser.add_argument('--out', help='dump metrics to this json/pkl file')
    parser.add_argument(
        '--allow-other-weights',
        action='store_true',
        help='apply a mask file or checkpoint to CLIP weights other than '
        'those it was learned on (refused by default)')
    add_common_args(parser, 'test_dataloader.dataset.subsample=new',
                    shots_help=SHOTS_HELP)
    return parser.parse_args(argv)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Applies the command line to the config; logs and the config dump go
    to ``<work dir>/test`` so that a training run's files stay as they
    are."""
    apply_common_args(cfg, args)
    cfg.work_dir = osp.join(cfg.work_dir, TEST_SUBDIR)
    cfg.model.backbone.allow_other_weights = args.allow_other_weights
    if args.checkpoint is None:
        cfg.load_from = None
    elif not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'Checkpoint {args.checkpoint!r} not found.')
    elif checkpoint_kind(args.checkpoint) == 'masks':
        # Mask files rebuild CLIP from its pretrained source plus the bits.
        cfg.model.backbone.mask_file = args.checkpoint
        cfg.load_from = None
    else:
        cfg.load_from = args.checkpoint
    return cfg


class TestProgressBar(Hook):
    """A progress bar of the test batches on stderr, in the main process."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.bar: Optional[ProgressBar] = None

    def before_test_epoch(self, runner: Runner) -> None:
        if is_main_process():
            self.bar = ProgressBar(len(runner.test_dataloader),
                                   file=sys.stderr)

    def after_test_iter(self, runner: Runner, batch_idx: int,
                        data_batch=None, outputs=None) -> None:
        if self.bar is not None:
            self.bar.update()

    def after_test_epoch(self, runner: Runner, metrics=None) -> None:
        self.close()

    def close(self) -> None:
        """Ends the bar's line (also when the test stops midway, so that a
        refusal starts a line of its own)."""
        if self.bar is not None:
            sys.stderr.write('\n')
            self.bar = None


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Evaluates the config's test split; ``--out`` dumps the metrics."""
    args = parse_args(argv)
    cfg = merge_args(read_config(args.config), args)
    if not cfg.get('test_dataloader'):
        raise ValueError('The config has no test_dataloader to evaluate on.')
    init_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    progress = TestProgressBar()
    runner.register_hook(progress)
    try:
        metrics = runner.test()
    finally:
        progress.close()
    close_distributed()
    if args.out:
        mmengine.dump(metrics, args.out)


if __name__ == '__main__':
    with refuse_bad_files():
        main()
