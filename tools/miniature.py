"""The miniature CLIP world: pre-train its CLIP, write its tasks, or
measure the paper's table in miniature.

Examples::

    # the shipped weights (rmt_mm/miniature/mini_clip.pt)
    python tools/miniature.py pretrain --out rmt_mm/miniature/mini_clip.pt
    # the downstream tasks in CoOp layout, under data/miniature/<task>/
    python tools/miniature.py tasks --out data/miniature
    # zero-shot, R-AMT 1/4/16 shots, AMT 16 shots, base-to-new; 3 seeds
    python tools/miniature.py table --work-root work_dirs/miniature
    # base-to-new only, on the task with a class-specific shift
    python tools/miniature.py table --task tinted --protocols base-to-new
    # the low-shot study: every recipe variant, both tasks, 1-16 shots
    python tools/miniature.py lowshot --work-root work_dirs/lowshot
    # one 16-shot run epoch by epoch: val and test accuracy, sparsity
    python tools/miniature.py curves --out docs/images/miniature_curves.png
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import List, Optional, Sequence

import numpy as np
import torch

TOOLS_DIR = osp.dirname(osp.abspath(__file__))
CONFIG = osp.join(osp.dirname(TOOLS_DIR), 'configs', 'miniature',
                  'rmt_mini_{task}_16shot.py')
# (sub-folder of the work root, shots, tools/sweep.py flags) of each
# protocol; lambda follows the paper's rule unless given (1.0 below 16 shots
# and in base-to-new, 0.3 at 16 shots). 16 shots train on the paper's
# recipe, fewer on the low-shot recipe (tools/train.py --shots).
PROTOCOLS = {
    'few-shot': (
        ('rmt', 16, ['--zero-shot']),
        ('rmt', 4, []),
        ('rmt', 1, []),
        ('amt', 16, ['--lam', '0']),
    ),
    'base-to-new': (
        ('rmt', 16, ['--base-to-new', '--zero-shot']),
        ('amt', 16, ['--base-to-new', '--lam', '0']),
    ),
}


def pretrain(args: argparse.Namespace) -> None:
    from rmt_mm.miniature.pretrain import pretrain as run, save_weights
    start = time.perf_counter()
    model = run(steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                seed=args.seed, log=lambda line: print(line, flush=True))
    if osp.dirname(args.out):
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    save_weights(model, args.out)
    print(f'saved {args.out} ({osp.getsize(args.out) / 2**20:.2f} MiB) '
          f'after {time.perf_counter() - start:.0f} s')


def tasks(args: argparse.Namespace) -> None:
    from rmt_mm.miniature.tasks import write_task
    for name in args.tasks:
        print(f'{name}: {write_task(args.out, name, args.seed)}')


def mean_std(values: Sequence[float]) -> str:
    """``'mean +- std'`` (population std over seeds), or ``'-'``."""
    if not values:
        return '-'
    return f'{np.mean(values):.2f} ± {np.std(values):.2f}'


def read_metric(path: str) -> Optional[float]:
    if not osp.isfile(path):
        return None
    with open(path) as file:
        return json.load(file)['accuracy/top1']


def sparsity(folder: str) -> Optional[float]:
    """Percent of masked entries switched off in a run's final masks."""
    from rmt_mm.utils import load_mask_file
    path = osp.join(folder, 'masks_final.pth')
    return 100 * load_mask_file(path)[1]['sparsity'] if osp.isfile(
        path) else None


def miniature_table(root: str, task: str, seeds: Sequence[int]) -> str:
    """The markdown tables of a ``table`` run (mean ± std over seeds;
    the harmonic mean is taken per seed, then averaged)."""
    from rmt_mm.utils.experiments import metrics_path, run_dir, zero_shot_dir

    def runs(method: str, shots: int, base_to_new: bool = False):
        return [run_dir(osp.join(root, method), task, shots, seed,
                        base_to_new) for seed in seeds]

    def collect(folders: List[str], target: Optional[str] = None):
        values = [read_metric(metrics_path(f, target)) for f in folders]
        return [v for v in values if v is not None]

    def sparsities(folders: List[str]):
        return [v for v in map(sparsity, folders) if v is not None]

    lines = [f'Task `{task}`, seeds {list(seeds)}: top-1 (%) on the test '
             'split, sparsity (%) of the masked weights.', '',
             '| method | shots | top-1 | sparsity |',
             '| --- | ---: | ---: | ---: |']
    zero_shot = collect([zero_shot_dir(osp.join(root, 'rmt'), task)])
    lines.append(f'| zero-shot CLIP | 0 | {mean_std(zero_shot)} | - |')
    rows = [('R-AMT', 'rmt', shots) for shots in (1, 4, 16)]
    rows.append(('AMT (lambda 0)', 'amt', 16))
    for label, method, shots in rows:
        folders = runs(method, shots)
        lines.append(f'| {label} | {shots} | {mean_std(collect(folders))} '
                     f'| {mean_std(sparsities(folders))} |')
    lines += ['', 'Base-to-new (16 shots of the base classes):', '',
              '| method | base | new | HM | sparsity |',
              '| --- | ---: | ---: | ---: | ---: |']
    b2n = [('zero-shot CLIP', [zero_shot_dir(osp.join(root, 'rmt'), task,
                                             True)]),
           ('AMT (lambda 0)', runs('amt', 16, True)),
           ('R-AMT (lambda 1)', runs('rmt', 16, True))]
    for label, folders in b2n:
        base, new = collect(folders, 'base'), collect(folders, 'new')
        hm = [2 * b * n / (b + n) for b, n in zip(base, new)]
        spars = mean_std(sparsities(folders)) if len(folders) > 1 else '-'
        lines.append(f'| {label} | {mean_std(base)} | {mean_std(new)} | '
                     f'{mean_std(hm)} | {spars} |')
    return '\n'.join(lines) + '\n'


def table(args: argparse.Namespace) -> None:
    from mmengine.config import Config

    from rmt_mm.miniature.tasks import write_task
    config = CONFIG.format(task=args.task)
    cfg = Config.fromfile(config)
    write_task(osp.dirname(cfg.test_dataloader.dataset.data_root),
               args.task)
    protocols = [p for name in args.protocols for p in PROTOCOLS[name]]
    for method, shots, flags in protocols:
        subprocess.run([
            sys.executable, osp.join(TOOLS_DIR, 'sweep.py'), '--configs',
            f'{args.task}={config}', '--seeds', *map(str, args.seeds),
            '--work-root', osp.join(args.work_root, method), '--shots',
            str(shots), *flags], check=True)
    for method in ('rmt', 'amt'):
        subprocess.run([sys.executable, osp.join(TOOLS_DIR,
                                                 'collect_results.py'),
                        osp.join(args.work_root, method)], check=True)
    text = miniature_table(args.work_root, args.task, args.seeds)
    with open(osp.join(args.work_root, 'miniature_table.md'), 'w') as file:
        file.write(text)
    print(text)


def lowshot(args: argparse.Namespace) -> None:
    from rmt_mm.miniature.lowshot import VARIANTS, run_study, study_table
    results = run_study(args.work_root, args.data_root,
                        args.variants or list(VARIANTS), args.tasks,
                        args.shots, args.seeds, jobs=args.jobs)
    names = list(dict.fromkeys(r['variant'] for r in results))
    described = {n: VARIANTS[n].description if n in VARIANTS else
                 'no training: zero-shot CLIP' for n in names}
    variants = '\n'.join(['| variant | what it changes |', '| --- | --- |'] +
                          [f'| {n} | {d} |' for n, d in described.items()])
    sections = [f'### Variants\n\n{variants}\n'] + [
        f'### {title}\n\n{study_table(results, metric)}\n'
        for title, metric in (('Validation top-1 (%)', 'val_top1'),
                              ('Test top-1 (%)', 'test_top1'),
                              ('Sparsity (%)', 'sparsity'))]
    text = '\n'.join(sections)
    path = osp.join(args.work_root, 'lowshot_study.md')
    with open(path, 'w') as file:
        file.write(text)
    print(f'{text}\nWrote {path}')


def curves(args: argparse.Namespace) -> None:
    from rmt_mm.miniature.curves import draw_curves, epoch_curves
    from rmt_mm.miniature.tasks import write_task
    write_task(args.data_root, args.task)
    result = epoch_curves(args.task, args.shots, args.seed, args.data_root,
                          args.work_dir)
    draw_curves(result, args.out,
                f'R-AMT on "{args.task}", {args.shots} shots, seed '
                f'{args.seed}, the paper\'s recipe')
    print(f'Wrote {args.out} (figures in {args.work_dir})')


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('Examples::')[1])
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads (1 is fastest on a busy machine)')
    commands = parser.add_subparsers(dest='command', required=True)
    train = commands.add_parser('pretrain', help='pre-train the CLIP')
    train.add_argument('--out', required=True, help='weight file to write')
    train.add_argument('--steps', type=int, default=800)
    train.add_argument('--batch-size', type=int, default=128)
    train.add_argument('--lr', type=float, default=2e-3)
    train.add_argument('--seed', type=int, default=0)
    write = commands.add_parser('tasks', help='write the downstream tasks')
    write.add_argument('--out', default='data/miniature',
                       help='parent folder of the task folders')
    write.add_argument('--tasks', nargs='+',
                       default=['compositions', 'shapes', 'tinted'])
    write.add_argument('--seed', type=int, default=0)
    measure = commands.add_parser(
        'table', help="the paper's table in miniature (tools/sweep.py and "
        'tools/collect_results.py), into WORK_ROOT/miniature_table.md')
    measure.add_argument('--work-root', default='work_dirs/miniature')
    measure.add_argument('--task', default='compositions',
                         choices=['compositions', 'shapes', 'tinted'])
    measure.add_argument('--seeds', nargs='+', type=int, default=[1, 2, 3])
    measure.add_argument('--protocols', nargs='+', choices=sorted(PROTOCOLS),
                         default=sorted(PROTOCOLS))
    study = commands.add_parser(
        'lowshot', help='the low-shot study: recipe variants x tasks x '
        'shots x seeds, trained in-process, into WORK_ROOT/lowshot_study.md')
    study.add_argument('--work-root', default='work_dirs/lowshot')
    study.add_argument('--data-root', default='data/miniature')
    study.add_argument('--variants', nargs='+',
                       help='variants to run (default: all of '
                       'rmt_mm.miniature.lowshot.VARIANTS)')
    study.add_argument('--tasks', nargs='+', default=['compositions',
                                                      'shapes'])
    study.add_argument('--shots', nargs='+', type=int,
                       default=[1, 2, 4, 8, 16])
    study.add_argument('--seeds', nargs='+', type=int, default=[1, 2, 3])
    study.add_argument('--jobs', type=int, default=2,
                       help='runs at a time, one torch thread each')
    curve = commands.add_parser(
        'curves', help='one run epoch by epoch (val and test top-1, '
        'sparsity) as a plot')
    curve.add_argument('--out', default='miniature_curves.png')
    curve.add_argument('--work-dir', default='work_dirs/miniature_curves')
    curve.add_argument('--data-root', default='data/miniature')
    curve.add_argument('--task', default='compositions')
    curve.add_argument('--shots', type=int, default=16)
    curve.add_argument('--seed', type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    {'pretrain': pretrain, 'tasks': tasks, 'table': table,
     'lowshot': lowshot, 'curves': curves}[args.command](args)


if __name__ == '__main__':
    main()
