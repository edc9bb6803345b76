"""Runs R-AMT over datasets x shots x seeds and tests every run (the plan,
its rules and the examples: rmt_mm/runs/sweep.py)."""
import argparse
import sys
from typing import Optional, Sequence

from rmt_mm.runs import refuse_bad_files, sweep
from rmt_mm.runs.experiments import METHODS, SEEDS, SHOTS
from rmt_mm.runs.sweep_launchers import ASSUMED_STEP_SECONDS, LAUNCHERS


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Run R-AMT over datasets x shots x seeds, then test.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=sweep.__doc__.split('Examples::')[1])
    parser.add_argument(
        '--datasets',
        nargs='+',
        default=[],
        help='dataset names, filled into --config-template')
    parser.add_argument(
        '--methods',
        nargs='+',
        default=['rmt'],
        metavar='METHOD',
        help=f'methods to run side by side: {", ".join(METHODS)}, or all '
        '(zero_shot is the same as --zero-shot)')
    parser.add_argument(
        '--config-template',
        help='config path with a {dataset} (and, for several methods, a '
        '{method}) field; default: each method\'s configs (configs/rmt/'
        'rmt_vitb16_{dataset}_16shot.py for R-AMT)')
    parser.add_argument(
        '--configs',
        nargs='+',
        default=[],
        metavar='[NAME=]CONFIG',
        help='more configs to sweep, each named NAME (default: the file '
        'name without .py)')
    parser.add_argument(
        '--shots', nargs='+', type=int, default=list(SHOTS))
    parser.add_argument(
        '--seeds', nargs='+', type=int, default=list(SEEDS))
    parser.add_argument(
        '--data-root',
        metavar='DIR',
        help="folder holding the datasets (CoOp's $DATA), passed to every "
        'training and test')
    parser.add_argument(
        '--work-root',
        default='work_dirs/sweep',
        help='root of the run folders')
    parser.add_argument(
        '--gpus',
        type=int,
        default=1,
        help='processes per training run; more than one trains with '
        'tools/dist_train.sh (tests always run in one process)')
    parser.add_argument(
        '--zero-shot',
        action='store_true',
        help='also test zero-shot CLIP once per dataset')
    parser.add_argument(
        '--base-to-new',
        action='store_true',
        help='train on the base classes, test on base and new classes')
    parser.add_argument(
        '--imagenet-variants',
        action='store_true',
        help='also test the imagenet runs on ImageNet-V2/-Sketch/-A/-R')
    parser.add_argument(
        '--lam',
        type=float,
        help="use this gradient-dropout lambda for every run instead of "
        "the paper's rule, lam='auto' (give such a sweep its own "
        '--work-root)')
    parser.add_argument(
        '--train-args',
        default='',
        help='extra tools/train.py arguments, as one string: '
        '--train-args="--amp"')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='extra key=value overrides for training and testing, e.g. '
        'model.backbone.pretrained=/models/ViT-B-16.pt')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='print the commands of the unfinished runs and the GPU-hours '
        'of their trainings (and, for slurm, the job arrays), then exit')
    parser.add_argument(
        '--step-seconds',
        type=float,
        default=ASSUMED_STEP_SECONDS,
        help='seconds per optimiser update of one run on its --gpus GPUs, '
        'for the --dry-run estimate and the jobs\' default time limits; '
        f'default {ASSUMED_STEP_SECONDS:g}: assumed for ViT-B/16 at batch '
        '32 on one A100-class GPU, not measured; measure yours with python '
        'tools/benchmark.py --device cuda --batch-size 32 (rmt_step_s)')
    parser.add_argument(
        '--fail-fast',
        action='store_true',
        help='stop at the first failed command (default: go on with the '
        'next run and exit 1 at the end)')
    parser.add_argument(
        '--launcher',
        choices=LAUNCHERS,
        default='local',
        help='local: run here; slurm: submit one submitit job per run (job '
        'arrays) and return; submitit-local: the same jobs, all at once, on '
        "this machine through submitit's local executor, waiting for them")
    parser.add_argument(
        '--jobs',
        type=int,
        default=1,
        metavar='N',
        help='with --launcher local: N runs at once, each on its own '
        '--gpus GPU(s), or without GPUs on 1/N of the CPU threads')
    parser.add_argument(
        '--status',
        action='store_true',
        help='show each run of the grid (pending, running, finished, '
        'failed with its last error line) and the ETA, then exit')
    slurm = parser.add_argument_group(
        'slurm jobs', "override a config's slurm section and the defaults "
        "from the run's dataset")
    slurm.add_argument('--slurm-partition', metavar='NAME')
    slurm.add_argument('--slurm-account', metavar='NAME')
    slurm.add_argument('--slurm-gpus', type=int, metavar='N',
                       help='GPUs per job (default: --gpus)')
    slurm.add_argument('--slurm-cpus', type=int, metavar='N',
                       help='CPUs per job (default: a CPU per data loader '
                       'worker and per training process)')
    slurm.add_argument('--slurm-mem-gb', type=float, metavar='GB',
                       help='memory per job (default: 4 GB per CPU)')
    slurm.add_argument('--slurm-time', type=int, metavar='MINUTES',
                       help="time limit per job (default: twice the "
                       "dataset's largest training at --step-seconds, plus "
                       '30 minutes)')
    args = parser.parse_args(argv)
    if args.methods == ['all']:
        args.methods = list(METHODS)
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        parser.error(f'unknown method(s) {unknown}: choose from '
                     f'{", ".join(METHODS)} or all')
    if 'zero_shot' in args.methods:
        args.zero_shot = True
    args.methods = [m for m in args.methods if m != 'zero_shot']
    if not args.methods and not args.zero_shot:
        parser.error('--methods zero_shot alone: use --methods rmt '
                     '--zero-shot or add another method')
    if not args.datasets and not args.configs:
        parser.error('give --datasets and/or --configs')
    template = args.config_template
    if template is not None and args.datasets:
        if '{dataset}' not in template:
            parser.error('--config-template needs a {dataset} field')
        if len(args.methods) > 1 and '{method}' not in template:
            parser.error('--config-template needs a {method} field when '
                         'several --methods run')
    if args.configs and len(args.methods) > 1:
        parser.error('--configs names one config per dataset: run one '
                     'method with it (or use --config-template with '
                     '{method})')
    if args.gpus < 1:
        parser.error('--gpus must be at least 1')
    if args.jobs < 1:
        parser.error('--jobs must be at least 1')
    if args.jobs > 1 and args.launcher != 'local':
        parser.error('--jobs is for --launcher local (a scheduler runs the '
                     'jobs of the other launchers at once)')
    if args.status and args.dry_run:
        parser.error('give --status or --dry-run, not both')
    if args.step_seconds <= 0:
        parser.error('--step-seconds must be positive')
    if any(k < 1 for k in args.shots):
        parser.error('--shots must be positive')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    return sweep.run_sweep(parse_args(argv))


if __name__ == '__main__':
    with refuse_bad_files():
        sys.exit(main())
