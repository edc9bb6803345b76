"""Turns a config plus launcher into a runnable setup (used by tools/)."""
import argparse
import logging
import os
import os.path as osp
from contextlib import contextmanager
from typing import Iterator, Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log

from ..engine.grad_dropout import check_lam
from ..registry import current_name
from .recipe import resolve_lam, set_shots_and_seed
from .user_config import CfgOptionsAction

AMP_TYPES = {
    'RMTGradDropoutOptimWrapper': 'RMTAmpGradDropoutOptimWrapper',
    'OptimWrapper': 'AmpOptimWrapper',
}


#: What ``--shots`` does for training.
SHOTS_HELP = ('images per class of the training subset (validation: '
              'min(K, 4)); below 16 also the low-shot schedule')


def add_common_args(parser: argparse.ArgumentParser,
                    cfg_options_example: str,
                    shots_help: str = SHOTS_HELP) -> None:
    """Adds the options every tool shares: the run's shots, seed and data
    folder, where outputs go, config overrides and how the processes were
    started; ``shots_help`` says what ``--shots`` does for the tool."""
    run = parser.add_argument_group('the run')
    run.add_argument('--shots', type=int, metavar='K', help=shots_help)
    run.add_argument(
        '--seed',
        type=int,
        metavar='S',
        help='seed of the few-shot draw and of the run (randomness.seed)')
    run.add_argument(
        '--data-root',
        metavar='DIR',
        help="folder holding the datasets (CoOp's $DATA): data/dtd in the "
        'config becomes DIR/dtd')
    out = parser.add_argument_group('outputs and overrides')
    out.add_argument(
        '--work-dir',
        help='where logs, checkpoints and masks go (default: '
        'work_dirs/<config name>)')
    out.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        metavar='KEY=VALUE',
        help=f'config entries to override, applied after the flags above, '
        f'e.g. {cfg_options_example}; a value keeps its spaces (quote it '
        'for the shell)')
    launch = parser.add_argument_group('process launch')
    launch.add_argument(
        '--launcher',
        default='none',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        help="who started the processes: 'none' for one plain process, "
        "'pytorch' under torchrun (tools/dist_*.sh), 'slurm' under srun")
    # torch.distributed.launch passes --local-rank (older: --local_rank).
    launch.add_argument(
        '--local-rank', '--local_rank', dest='local_rank', type=int,
        default=0, help=argparse.SUPPRESS)


def apply_common_args(cfg: Config, args: argparse.Namespace) -> None:
    """Applies :func:`add_common_args`' options to ``cfg``: the shots,
    seed and data folder first, ``--cfg-options`` after them."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        name = osp.splitext(osp.basename(args.config))[0]
        cfg.work_dir = osp.join('./work_dirs', name)
    set_shots_and_seed(cfg, args.shots, args.seed, args.data_root)
    cfg.merge_from_dict(args.cfg_options or {})


def launched_world_size(launcher: str) -> int:
    """Number of processes the launcher started (1 without a launcher)."""
    if launcher == 'none':
        return 1
    if launcher == 'slurm':
        return int(os.environ.get('SLURM_NTASKS', 1))
    return int(os.environ.get('WORLD_SIZE', 1))


def init_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Starts gloo for a launch on CPUs.

    mmengine's ``init_dist`` pins a CUDA device, which fails on machines
    without one; with the process group already up, the Runner skips it.
    DDP on CPU modules also needs ``device_ids=None``.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper.update(device_ids=None, broadcast_buffers=False)
    cfg.model_wrapper_cfg = wrapper


def close_distributed() -> None:
    """Shuts the process group down once a job has finished.

    A rank that leaves with the group still up tears gloo down during
    interpreter exit, while its worker threads may still be joinable; the
    process then aborts ("terminate called without an active exception")
    after the job itself succeeded. The barrier keeps every rank in the
    group until all have finished their last collective.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


@contextmanager
def launched(cfg: Config, launcher: str) -> Iterator[int]:
    """Starts the process group of ``launcher`` (gloo on CPUs), yields the
    number of processes, and shuts the group down once the job inside has
    succeeded (a failed job leaves it up, as a rank that raises must)."""
    init_cpu_distributed(cfg, launcher)
    yield launched_world_size(launcher)
    close_distributed()


def apply_global_batch_size(cfg: Config, world_size: int) -> None:
    """Splits ``global_batch_size`` evenly over the processes and
    accumulation steps, and tells the training sampler the global batch.

    Without ``global_batch_size`` the global batch is the per-process batch
    x processes x accumulation steps.
    """
    accumulate = cfg.optim_wrapper.get('accumulative_counts', 1)
    global_batch = cfg.get('global_batch_size')
    if global_batch is None:
        global_batch = cfg.train_dataloader.batch_size * world_size * \
            accumulate
    elif global_batch % (world_size * accumulate):
        raise ValueError(
            f'global_batch_size={global_batch} cannot be split over '
            f'{world_size} processes x {accumulate} accumulation steps. '
            'Pick a process count that divides it or change it with '
            '--cfg-options global_batch_size=N.')
    else:
        cfg.train_dataloader.batch_size = global_batch // (world_size *
                                                           accumulate)
    sampler = cfg.train_dataloader.get('sampler') or {}
    if sampler.get('type') == 'RMTGlobalBatchSampler':
        sampler.global_batch_size = global_batch


def apply_auto_scale_lr(cfg: Config, world_size: int) -> None:
    """Scales the learning rate by the effective batch over
    ``auto_scale_lr.base_batch_size`` when ``auto_scale_lr.enable``.

    The effective batch is the per-process batch x processes x accumulation
    steps (mmengine's own scaling leaves accumulation out), so call this
    after :func:`apply_global_batch_size`. mmengine's scaling is then
    switched off.
    """
    scaling = cfg.get('auto_scale_lr') or {}
    if not scaling.get('enable', False):
        return
    if 'base_batch_size' not in scaling:
        raise ValueError('auto_scale_lr needs base_batch_size, the batch '
                         'the learning rate was chosen for.')
    accumulate = cfg.optim_wrapper.get('accumulative_counts', 1)
    effective = cfg.train_dataloader.batch_size * world_size * accumulate
    factor = effective / scaling['base_batch_size']
    optimizer = cfg.optim_wrapper.optimizer
    print_log(
        f'auto_scale_lr: batch {effective} (x{factor:g} the base '
        f"{scaling['base_batch_size']}): lr {optimizer.lr:g} -> "
        f'{optimizer.lr * factor:g}', logger='current')
    optimizer.lr *= factor
    cfg.auto_scale_lr = dict(scaling, enable=False)


def enable_amp(cfg: Config, dtype: Optional[str] = None) -> None:
    """Switches the optim wrapper to its mixed-precision counterpart."""
    current = current_name(cfg.optim_wrapper.get('type', 'OptimWrapper'))
    if current in AMP_TYPES.values():
        return
    if current not in AMP_TYPES:
        raise ValueError(
            f'--amp does not know the mixed-precision form of '
            f'{current!r}; use RMTGradDropoutOptimWrapper or OptimWrapper.')
    cfg.optim_wrapper.type = AMP_TYPES[current]
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if dtype is not None:
        cfg.optim_wrapper.dtype = dtype
    print_log(f'--amp: {current} -> {AMP_TYPES[current]}', logger='current')


def add_selection_args(parser: argparse.ArgumentParser) -> None:
    """Adds ``--select``, ``--top-k`` and ``--param-budget``: how
    ``RMTParameterSelector`` chooses the masked weights."""
    parser.add_argument(
        '--select',
        choices=['fixed', 'importance'],
        help="'importance' scores conv1 and every block's attention and MLP "
        "on training batches and masks the best; 'fixed' (the configs' "
        "default) masks model.backbone.mask_targets")
    parser.add_argument(
        '--top-k', type=int, help='--select importance: groups to keep')
    parser.add_argument(
        '--param-budget',
        type=int,
        help='--select importance: most masked entries (instead of --top-k)')


def apply_selection_args(cfg: Config, args: argparse.Namespace) -> None:
    """Applies :func:`add_selection_args`' options to the config's
    ``RMTParameterSelector`` hook (whatever its place in ``custom_hooks``)."""
    options = {key: value for key, value in (
        ('mode', args.select), ('top_k', args.top_k),
        ('param_budget', args.param_budget)) if value is not None}
    if not options:
        return
    hooks = [h for h in cfg.get('custom_hooks', [])
             if current_name(h.get('type')) in (
                 'RMTParameterSelector', 'mmpretrain.RMTParameterSelector')]
    if len(hooks) != 1:
        raise ValueError(
            f'--select/--top-k/--param-budget need exactly one '
            f'RMTParameterSelector in custom_hooks; the config has '
            f'{len(hooks)}. Inherit configs/_base_/default_runtime.py.')
    hooks[0].update(options)


def check_train_config(cfg: Config) -> None:
    """Fails early, with a readable message, on configs that cannot train."""
    loader = cfg.get('train_dataloader')
    if not loader or not loader.get('dataset'):
        raise ValueError(
            'The config has no train_dataloader.dataset. Inherit a dataset '
            "base, e.g. _base_ = ['../_base_/datasets/dtd.py', ...], or set "
            'train_dataloader = dict(dataset=dict('
            "type='RMTFewShotImageFolder', data_root='data/my_dataset', "
            '...)).')
    wrapper = cfg.get('optim_wrapper') or {}
    if 'lam' in wrapper:
        resolve_lam(cfg)
        check_lam(wrapper['lam'])
    backbone = cfg.get('model', {}).get('backbone', {})
    if current_name(backbone.get('type')) != 'RMTMaskedCLIP':
        raise ValueError('rmt_mm configs need model.backbone.type='
                         f"'RMTMaskedCLIP', got {backbone.get('type')!r}.")


def check_batch_options(cfg: Config, cfg_options: Optional[dict]) -> None:
    """Refuses ``--cfg-options train_dataloader.batch_size=N`` while
    ``global_batch_size`` decides the batch of each process."""
    global_batch = cfg.get('global_batch_size')
    if global_batch is None or 'train_dataloader.batch_size' not in (
            cfg_options or {}):
        return
    raise ValueError(
        'train_dataloader.batch_size='
        f'{cfg_options["train_dataloader.batch_size"]} would be ignored: '
        f'global_batch_size={global_batch} sets the batch of each process '
        '(global batch / processes / accumulation steps). Change '
        'global_batch_size instead (--cfg-options global_batch_size=N), or '
        'set global_batch_size=None to use train_dataloader.batch_size.')


def warn_if_batch_exceeds_dataset(runner) -> None:
    """Warns, with the numbers, when one optimizer step would need more
    samples than the training set has (builds the train loop)."""
    loader = runner.train_dataloader
    accumulate = runner.cfg.optim_wrapper.get('accumulative_counts', 1)
    world_size = runner.world_size
    global_batch = loader.batch_size * world_size * accumulate
    size = len(loader.dataset)
    if global_batch > size:
        print_log(
            f'The global batch of {global_batch} ({loader.batch_size} per '
            f'process x {world_size} process(es) x {accumulate} '
            f'accumulation step(s)) is larger than the training set '
            f'({size} samples): each step sees at most {size}. Lower '
            'global_batch_size or train on more shots.',
            logger='current', level=logging.WARNING)
