"""The logic of ``tools/train.py``: the command line merged into the
config, the low-shot recipe, the batch split over the processes, then the
mmengine Runner's training in a prepared work dir."""
import argparse

from mmengine.config import Config
from mmengine.runner import Runner

from ..fileio.config_file import read_config
from .launch import (apply_auto_scale_lr, apply_common_args,
                     apply_global_batch_size, apply_selection_args,
                     check_batch_options, check_train_config, enable_amp,
                     launched, warn_if_batch_exceeds_dataset)
from .recipe import LOW_SHOT_KEYS, apply_low_shot_recipe, explicit_keys
from .work_dir import prepare_training_work_dir


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Applies ``tools/train.py``'s command line to the config
    (``--cfg-options`` last)."""
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


def run_training(args: argparse.Namespace) -> None:
    """Trains the masks of ``args.config`` as ``tools/train.py``'s command
    line ``args`` asks."""
    cfg = merge_args(read_config(args.config), args)
    check_train_config(cfg)
    apply_recipe(cfg, args)
    check_batch_options(cfg, args.cfg_options)
    with launched(cfg, args.launcher) as world_size:
        apply_global_batch_size(cfg, world_size)
        apply_auto_scale_lr(cfg, world_size)
        with prepare_training_work_dir(cfg):
            runner = Runner.from_cfg(cfg)
            warn_if_batch_exceeds_dataset(runner)
            runner.train()
