"""Evaluate zero-shot CLIP (no checkpoint) or R-AMT masks; a progress bar
of the test batches goes to stderr (what the test does:
rmt_mm/runs/test.py)."""
import argparse
from typing import Optional, Sequence

from rmt_mm.runs import refuse_bad_files
from rmt_mm.runs.launch import add_common_args
from rmt_mm.runs.test import run_test

#: What ``--shots`` (and so ``--seed``'s few-shot draw) changes in a test.
SHOTS_HELP = ('images per class of the training subset that a Tip-Adapter '
              'cache is built from when the checkpoint holds none (its '
              'alpha/beta search: min(K, 4) per class of validation); the '
              'test split is always evaluated whole')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The command line of ``tools/test.py``."""
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
    add_common_args(parser, 'test_dataloader.dataset.subsample=new',
                    shots_help=SHOTS_HELP)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Evaluates the config's test split; ``--out`` dumps the metrics."""
    run_test(parse_args(argv))


if __name__ == '__main__':
    with refuse_bad_files():
        main()
