"""The miniature CLIP world: pre-train its CLIP, write its tasks, or
measure the paper's table in miniature.

Examples::

    # the shipped weights (projects/miniature/mini_clip.pt)
    python projects/miniature/tools/miniature.py pretrain \\
        --out projects/miniature/mini_clip.pt
    # the downstream tasks in CoOp layout, under data/miniature/<task>/
    python projects/miniature/tools/miniature.py tasks --out data/miniature
    # zero-shot, R-AMT 1/4/16 shots, AMT 16 shots, base-to-new; 3 seeds,
    # 2 runs at once
    python projects/miniature/tools/miniature.py table \\
        --work-root work_dirs/miniature --jobs 2
    # base-to-new only, on the task with a class-specific shift
    python projects/miniature/tools/miniature.py table --task tinted \\
        --protocols base-to-new
    # the low-shot study: every recipe variant, both tasks, 1-16 shots
    python projects/miniature/tools/miniature.py lowshot \\
        --work-root work_dirs/lowshot
    # one 16-shot run epoch by epoch: val and test accuracy, sparsity
    python projects/miniature/tools/miniature.py curves \\
        --out docs/images/miniature_curves.png
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Optional, Sequence

import torch

# The project's package, wherever this is run from.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from rmt_miniature import TOOLS, config_path  # noqa: E402
from rmt_miniature.table import PROTOCOLS, miniature_table  # noqa: E402


def pretrain(args: argparse.Namespace) -> None:
    from rmt_miniature.pretrain import pretrain as run
    from rmt_miniature.pretrain import save_weights
    start = time.perf_counter()
    model = run(steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                seed=args.seed, log=lambda line: print(line, flush=True))
    if osp.dirname(args.out):
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    save_weights(model, args.out)
    print(f'saved {args.out} ({osp.getsize(args.out) / 2**20:.2f} MiB) '
          f'after {time.perf_counter() - start:.0f} s')


def tasks(args: argparse.Namespace) -> None:
    from rmt_miniature.tasks import write_task
    for name in args.tasks:
        print(f'{name}: {write_task(args.out, name, args.seed)}')


def table(args: argparse.Namespace) -> None:
    from mmengine.config import Config
    from rmt_miniature.tasks import write_task
    config = config_path(args.task)
    cfg = Config.fromfile(config)
    write_task(osp.dirname(cfg.test_dataloader.dataset.data_root),
               args.task)
    protocols = [p for name in args.protocols for p in PROTOCOLS[name]]
    for method, shots, flags in protocols:
        subprocess.run([
            sys.executable, osp.join(TOOLS, 'sweep.py'), '--configs',
            f'{args.task}={config}', '--seeds', *map(str, args.seeds),
            '--work-root', osp.join(args.work_root, method), '--shots',
            str(shots), '--jobs', str(args.jobs), *flags], check=True)
    for method in ('rmt', 'amt'):
        subprocess.run([sys.executable, osp.join(TOOLS,
                                                 'collect_results.py'),
                        osp.join(args.work_root, method)], check=True)
    text = miniature_table(args.work_root, args.task, args.seeds)
    with open(osp.join(args.work_root, 'miniature_table.md'), 'w') as file:
        file.write(text)
    print(text)


def lowshot(args: argparse.Namespace) -> None:
    from rmt_miniature.lowshot import VARIANTS, run_study, study_table
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
    from rmt_miniature.curves import draw_curves, epoch_curves
    from rmt_miniature.tasks import write_task
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
    measure.add_argument('--jobs', type=int, default=1,
                         help='runs at once (tools/sweep.py --jobs: each on '
                         'its own GPU, or on its share of the CPU threads)')
    study = commands.add_parser(
        'lowshot', help='the low-shot study: recipe variants x tasks x '
        'shots x seeds, trained in-process, into WORK_ROOT/lowshot_study.md')
    study.add_argument('--work-root', default='work_dirs/lowshot')
    study.add_argument('--data-root', default='data/miniature')
    study.add_argument('--variants', nargs='+',
                       help='variants to run (default: all of '
                       'rmt_miniature.lowshot.VARIANTS)')
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
