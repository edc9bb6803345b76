"""Collects the metrics of a ``tools/sweep.py`` folder into the paper's
tables, with the paper's numbers beside ours, and plots accuracy vs shots
(what is written, and how: rmt_mm/runs/collect/).

Example::

    python tools/collect_results.py work_dirs/sweep
"""
import argparse
import os.path as osp
from typing import Optional, Sequence

from rmt_mm.runs import refuse_bad_files
from rmt_mm.runs.collect import collect


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Tabulate and plot a tools/sweep.py folder.')
    parser.add_argument('root', help='the sweep root (--work-root)')
    parser.add_argument(
        '--out-dir', help='output folder (default: <root>/results)')
    parser.add_argument(
        '--metric',
        default='accuracy/top1',
        help='key of the metrics JSON files to report')
    parser.add_argument(
        '--seeds',
        type=int,
        default=0,
        help='seeds the sweep asked for: cells with fewer are marked (n=k); '
        'default: the seed folders of each cell')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    out_dir = args.out_dir or osp.join(args.root, 'results')
    outputs = collect(args.root, out_dir, args.metric, args.seeds)
    with open(outputs['markdown']) as f:
        print(f.read())
    for kind, path in outputs.items():
        print(f'{kind}: {path}')


if __name__ == '__main__':
    with refuse_bad_files():
        main()
