"""The embedded demo behind `make demo`: the whole R-AMT job offline.

What each world and each step is: rmt_mm/runs/demo.py.

Examples::

    python tools/demo.py                  # the miniature world
    python tools/demo.py --world digits   # a random CLIP on digits
    python tools/demo.py --methods        # every method side by side
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

from rmt_mm.runs.demo import CONFIGS, compare_methods, run_demo

# The miniature project's package, wherever this is run from.
sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                            'projects', 'miniature'))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--world', choices=sorted(CONFIGS),
                        default='miniature',
                        help='pre-trained miniature CLIP on rendered scenes, '
                        'or a random CLIP on digits')
    parser.add_argument('--out', default='demo_output',
                        help='folder for data, weights and results')
    parser.add_argument('--methods', action='store_true',
                        help='run every method side by side instead')
    parser.add_argument('--seeds', nargs='+', type=int, default=[1, 2, 3],
                        help='seeds of --methods (mean ± std over them)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if args.methods:
        compare_methods(args.world, osp.join(args.out, 'methods'),
                        args.seeds)
    else:
        run_demo(args.world, args.out)


if __name__ == '__main__':
    main()
