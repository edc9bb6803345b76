"""The logic of ``tools/test.py``: the command line merged into the
config (a mask file, a resume checkpoint or none), then the mmengine
Runner's test with a progress bar of the batches on stderr."""
import argparse
import os.path as osp
import sys
from typing import Optional

import mmengine
from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.utils import ProgressBar

from ..fileio import checkpoint_kind
from ..fileio.config_file import read_config
from .launch import apply_common_args, launched

#: Where a test's logs and config dump go, below the run's work dir.
TEST_SUBDIR = 'test'


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Applies ``tools/test.py``'s command line to the config; logs and the
    config dump go to ``<work dir>/test`` so that a training run's files
    stay as they are."""
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

    __test__ = False  # a hook, not a pytest test class
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


def run_test(args: argparse.Namespace) -> None:
    """Evaluates the test split of ``args.config`` as ``tools/test.py``'s
    command line ``args`` asks; ``args.out`` gets the metrics."""
    cfg = merge_args(read_config(args.config), args)
    if not cfg.get('test_dataloader'):
        raise ValueError('The config has no test_dataloader to evaluate on.')
    with launched(cfg, args.launcher):
        runner = Runner.from_cfg(cfg)
        progress = TestProgressBar()
        runner.register_hook(progress)
        try:
            metrics = runner.test()
        finally:
            progress.close()
    if args.out:
        mmengine.dump(metrics, args.out)
