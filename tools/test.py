"""Evaluate zero-shot CLIP (no checkpoint) or R-AMT masks."""
import argparse
import os.path as osp
from typing import Optional, Sequence

import mmengine
from mmengine.config import Config
from mmengine.runner import Runner

import rmt_mm  # noqa: F401  (registers components, applies shims)
from rmt_mm.fileio import checkpoint_kind
from rmt_mm.runs import refuse_bad_files
from rmt_mm.runs.launch import (add_common_args, apply_common_args,
                                 close_distributed, init_cpu_distributed)
from rmt_mm.fileio.config_file import read_config

TEST_SUBDIR = 'test'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
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
    add_common_args(parser, 'test_dataloader.dataset.subsample=new')
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


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    cfg = merge_args(read_config(args.config), args)
    if not cfg.get('test_dataloader'):
        raise ValueError('The config has no test_dataloader to evaluate on.')
    init_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    close_distributed()
    if args.out:
        mmengine.dump(metrics, args.out)


if __name__ == '__main__':
    with refuse_bad_files():
        main()
