"""Train R-AMT masks with the mmengine Runner (mmpretrain's arguments)."""
import argparse
from typing import Optional, Sequence

from mmengine.config import Config
from mmengine.runner import Runner

import rmt_mm  # noqa: F401  (registers components, applies shims)
from rmt_mm.runs import refuse_bad_files
from rmt_mm.runs.launch import (add_common_args, add_selection_args,
                                 apply_auto_scale_lr, apply_common_args,
                                 apply_global_batch_size,
                                 apply_selection_args, check_batch_options,
                                 check_train_config,
                                 close_distributed, enable_amp,
                                 init_cpu_distributed, launched_world_size,
                                 warn_if_batch_exceeds_dataset)
from rmt_mm.runs.recipe import (LOW_SHOT_KEYS, apply_low_shot_recipe,
                                 explicit_keys)
from rmt_mm.fileio.config_file import read_config
from rmt_mm.runs.work_dir import prepare_training_work_dir


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train R-AMT masks')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest '
        'checkpoint in the work dir when no path is given')
    parser.add_argument(
        '--amp', action='store_true', help='mixed precision (GPU only)')
    parser.add_argument(
        '--amp-dtype',
        choices=['float16', 'bfloat16'],
        help='autocast dtype for --amp (default: float16)')
    parser.add_argument(
        '--no-validate', action='store_true', help='skip validation')
    parser.add_argument(
        '--allow-other-weights',
        action='store_true',
        help='resume (or load_from) a checkpoint whose mask scores were '
        'learned on other CLIP weights (refused by default)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the effective batch (processes x batch x '
        'accumulation) over auto_scale_lr.base_batch_size')
    add_selection_args(parser)
    add_common_args(parser, 'optim_wrapper.lam=1.0 train_cfg.max_epochs=50')
    return parser.parse_args(argv)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Applies the command line to the config (--cfg-options last)."""
    if args.amp or args.amp_dtype:
        enable_amp(cfg, args.amp_dtype)
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.allow_other_weights:
        cfg.model.backbone.allow_other_weights = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    apply_selection_args(cfg, args)
    apply_common_args(cfg, args)
    return cfg


def apply_recipe(cfg: Config, args: argparse.Namespace) -> None:
    """Below 16 shots the low-shot recipe fills what the user's config and
    ``--cfg-options`` leave unset."""
    explicit = set(args.cfg_options or {}) | set(
        explicit_keys(args.config, LOW_SHOT_KEYS))
    apply_low_shot_recipe(cfg, explicit)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    cfg = merge_args(read_config(args.config), args)
    check_train_config(cfg)
    apply_recipe(cfg, args)
    check_batch_options(cfg, args.cfg_options)
    init_cpu_distributed(cfg, args.launcher)
    world_size = launched_world_size(args.launcher)
    apply_global_batch_size(cfg, world_size)
    apply_auto_scale_lr(cfg, world_size)
    with prepare_training_work_dir(cfg):
        runner = Runner.from_cfg(cfg)
        warn_if_batch_exceeds_dataset(runner)
        runner.train()
    close_distributed()


if __name__ == '__main__':
    with refuse_bad_files():
        main()
