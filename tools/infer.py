"""Classify images, folders of images or both with a config plus a mask file
(or zero-shot CLIP, or any class names you type).

The mask file is the first path when it is named or made like a torch file
(``.pth``, ``.pt``, ...; zip or pickle content), or ``--masks FILE``. Such a
file that does not load as a mask file is refused, naming it: the tool never
falls back to zero-shot CLIP.

Examples::

    python tools/infer.py configs/demo/rmt_tiny_digits.py \\
        demo_output/work/masks_final.pth demo_output/data/test --topk 3
    python tools/infer.py CONFIG photo.jpg --classes cat dog 'red fox'
"""
import argparse
import json
import os.path as osp
import sys
from typing import List, Optional, Sequence

import rmt_mm  # noqa: F401  (registers components, applies shims)
from rmt_mm.apis import RMTInferencer, top_classes
from rmt_mm.runs import refuse_bad_files
from rmt_mm.runs.user_config import CfgOptionsAction

#: Endings of the files ``torch.save`` writes; images never have them.
TORCH_EXTENSIONS = ('.pth', '.pt', '.ckpt', '.bin', '.pkl', '.tar')
#: How ``torch.save`` files start: a zip archive or a pickle.
TORCH_STARTS = (b'PK\x03\x04', b'\x80')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Classify images with R-AMT masks (or zero-shot CLIP)',
        usage='%(prog)s CONFIG [MASKS] INPUTS... [options]')
    parser.add_argument('config', help='the config the masks were trained '
                        'with')
    parser.add_argument(
        'paths',
        nargs='+',
        metavar='[MASKS] INPUTS',
        help='an optional mask file (masks_*.pth; omit it for zero-shot '
        'CLIP), then image files and folders (searched recursively)')
    parser.add_argument('--masks', help='the mask file, instead of as the '
                        'first path')
    parser.add_argument('--topk', type=int, default=5,
                        help='classes shown per image')
    parser.add_argument('--out', help='also write the results to this JSON '
                        'file')
    parser.add_argument(
        '--classes',
        nargs='+',
        help='classify among these names instead of the config\'s classes '
        '(open vocabulary)')
    parser.add_argument('--templates', nargs='+',
                        help='prompt templates with one {} for --classes')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings, key=value')
    args = parser.parse_args(argv)
    if args.topk < 1:
        parser.error('--topk must be >= 1.')
    args.inputs = args.paths
    if args.masks is None and looks_like_torch_file(args.paths[0]):
        args.masks, args.inputs = args.paths[0], args.paths[1:]
    if not args.inputs:
        parser.error('give at least one image or folder after the mask '
                     'file.')
    return args


def looks_like_torch_file(path: str) -> bool:
    """Whether ``path`` is a regular file named or made like a
    ``torch.save`` file: then it is meant as the mask file, and loading it
    decides whether it is one."""
    if not osp.isfile(path):
        return False
    if osp.splitext(path)[1].lower() in TORCH_EXTENSIONS:
        return True
    with open(path, 'rb') as f:
        return f.read(4).startswith(TORCH_STARTS)


def format_table(results: List[dict], classnames: Sequence[str],
                 topk: int) -> str:
    """A plain-text table: input, top-1 class and score, then the top-k."""
    rows = [('input', 'class', 'score', f'top-{topk}')]
    for result in results:
        best = top_classes(result, classnames, topk)
        rows.append((str(result['input']), result['pred_class'],
                     f'{result["pred_score"]:.3f}',
                     ', '.join(f'{name} {score:.2f}'
                               for name, score in best)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return '\n'.join(
        '  '.join(cell.ljust(width) for cell, width in zip(row, widths)) +
        '  ' + row[3] for row in rows)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    inferencer = RMTInferencer(
        args.config, args.masks, classnames=args.classes,
        templates=args.templates, cfg_options=args.cfg_options,
        device=args.device)
    results = inferencer(args.inputs, batch_size=args.batch_size,
                         progress=any(osp.isdir(p) for p in args.inputs))
    print(format_table(results, inferencer.classnames, args.topk))
    for name, reason in inferencer.skipped:
        print(f'skipped {name}: {reason}', file=sys.stderr)
    print(f'{len(results)} classified, {len(inferencer.skipped)} skipped',
          file=sys.stderr)
    if args.out:
        records = [
            dict(r, pred_scores=r['pred_scores'].tolist(),
                 topk=top_classes(r, inferencer.classnames, args.topk))
            for r in results
        ]
        with open(args.out, 'w') as f:
            json.dump(dict(classes=list(inferencer.classnames),
                           results=records,
                           skipped=[dict(input=n, reason=r) for n, r in
                                    inferencer.skipped]), f, indent=1)
    return 0 if results or not inferencer.skipped else 1


if __name__ == '__main__':
    with refuse_bad_files():
        sys.exit(main())
