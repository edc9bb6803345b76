"""Pictures of a run: where the masks cut, and what the selector chose.

Subcommands::

    # per-layer sparsity heatmap of a mask file: rows = blocks, columns =
    # masked tensors (attn.in_proj, attn.out_proj, ..., conv1)
    python tools/visualize.py masks WORK_DIR/masks_final.pth --out masks.png
    # ParameterSelector's importance scores, selected groups highlighted
    python tools/visualize.py selection WORK_DIR/mask_selection.json \\
        --out selection.png
    # a run against its updates: sparsity, entries switched off / on per
    # update, and validation accuracy (zero-shot at update 0)
    python tools/visualize.py training WORK_DIR --out training.png
"""
import argparse
import os.path as osp
from typing import List, Optional

from rmt_mm.fileio import load_mask_file
from rmt_mm.fileio.side_files import read_json
from rmt_mm.runs import refuse_bad_files
from rmt_mm.runs.plots import (draw_selection, draw_sparsity, draw_training,
                               selection_bars, sparsity_grid, training_curves)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Plot R-AMT masks and parameter selections.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('Subcommands::')[1])
    sub = parser.add_subparsers(dest='command', required=True)
    masks = sub.add_parser('masks', help='sparsity heatmap of a mask file')
    masks.add_argument('mask_file', help='masks_*.pth')
    masks.add_argument(
        '--out', help='PNG path (default: next to the mask file)')
    selection = sub.add_parser(
        'selection', help='importance scores of mask_selection.json')
    selection.add_argument('selection_file', help='mask_selection.json')
    selection.add_argument(
        '--out', help='PNG path (default: next to the json)')
    training = sub.add_parser(
        'training', help='sparsity, flips per update and val accuracy of '
        'a work dir against the updates')
    training.add_argument('work_dir', help="the run's work dir")
    training.add_argument(
        '--out', help='PNG path (default: WORK_DIR/training.png)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> str:
    """Draws the requested picture and returns its path."""
    args = parse_args(argv)
    if args.command == 'masks':
        masks, meta = load_mask_file(args.mask_file)
        out = args.out or osp.splitext(args.mask_file)[0] + '_sparsity.png'
        draw_sparsity(sparsity_grid(masks, meta.get('arch')), out,
                      args.mask_file)
    elif args.command == 'training':
        out = args.out or osp.join(args.work_dir, 'training.png')
        draw_training(training_curves(args.work_dir), out,
                      osp.basename(osp.normpath(args.work_dir)))
    else:
        bars = selection_bars(read_json(
            args.selection_file, 'Use the mask_selection.json of a run '
            "(written by ParameterSelector(mode='importance'))."))
        out = args.out or osp.splitext(args.selection_file)[0] + '.png'
        draw_selection(bars, out, args.selection_file)
    print(f'Wrote {out}')
    return out


if __name__ == '__main__':
    with refuse_bad_files():
        main()
