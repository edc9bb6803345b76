"""Classify images, folders of images or both with a mask file (which
records its classes, prompts and CLIP weights), a config plus a mask file,
zero-shot CLIP, or any class names you type.

The arguments are ``[CONFIG] [MASKS] INPUTS...``. A config is the first
path when it is named like one (``.py``, ``.json``, ``.yaml``). The mask
file is the next path when it is named or made like a torch file (``.pth``,
``.pt``, ...; zip or pickle content), or ``--masks FILE``. Such a file that
does not load as a mask file is refused, naming it: the tool never falls
back to zero-shot CLIP. Mask files written before they recorded their
classifier need the config they were trained with.

Examples::

    python tools/infer.py demo_output/work/miniature/masks_final.pth \\
        demo_output/data/compositions/test --topk 3
    python tools/infer.py CONFIG MASKS photos/ --out results.json
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

#: Endings of the config files mmengine reads; images never have them.
CONFIG_EXTENSIONS = ('.py', '.json', '.yaml', '.yml')
#: Endings of the files ``torch.save`` writes; images never have them.
TORCH_EXTENSIONS = ('.pth', '.pt', '.ckpt', '.bin', '.pkl', '.tar')
#: How ``torch.save`` files start: a zip archive or a pickle.
TORCH_STARTS = (b'PK\x03\x04', b'\x80')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The command line, with ``paths`` split into ``config``, ``masks``
    and ``inputs``."""
    parser = argparse.ArgumentParser(
        description='Classify images with R-AMT masks (or zero-shot CLIP)',
        usage='%(prog)s [CONFIG] [MASKS] INPUTS... [options]')
    parser.add_argument(
        'paths',
        nargs='+',
        metavar='[CONFIG] [MASKS] INPUTS',
        help='the config the masks were trained with (optional for mask '
        'files that record their classifier; alone: zero-shot CLIP), the '
        'mask file (masks_*.pth), then image files and folders (searched '
        'recursively)')
    parser.add_argument('--masks', help='the mask file, instead of as a '
                        'path')
    parser.add_argument('--topk', type=int, default=5,
                        help='classes shown per image')
    parser.add_argument('--out', help='also write the results to this JSON '
                        'file')
    parser.add_argument(
        '--classes',
        nargs='+',
        help='classify among these names instead of the trained classes '
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
    paths = list(args.paths)
    args.config = paths.pop(0) if looks_like_config(paths[0]) else None
    if args.masks is None and paths and looks_like_torch_file(paths[0]):
        args.masks = paths.pop(0)
    if args.config is None and args.masks is None:
        parser.error(f'{args.paths[0]!r} is neither a config (.py) nor a '
                     'mask file (.pth): give a mask file, or a config for '
                     'zero-shot CLIP, before the images.')
    if args.config is None and paths and looks_like_config(paths[0]):
        parser.error(f'give the config {paths[0]!r} before the mask file.')
    if not paths:
        parser.error('give at least one image or folder after the config '
                     'and mask file.')
    args.inputs = paths
    return args


def looks_like_config(path: str) -> bool:
    """Whether ``path`` is named like a config file (and is no folder)."""
    return (osp.splitext(path)[1].lower() in CONFIG_EXTENSIONS
            and not osp.isdir(path))


def looks_like_torch_file(path: str) -> bool:
    """Whether ``path`` is named like a ``torch.save`` file, or is a regular
    file made like one: then it is meant as the mask file, and loading it
    decides whether it is one."""
    if osp.splitext(path)[1].lower() in TORCH_EXTENSIONS:
        return True
    if not osp.isfile(path):
        return False
    with open(path, 'rb') as f:
        return f.read(4).startswith(TORCH_STARTS)


def format_table(results: List[dict], classnames: Sequence[str],
                 topk: int) -> str:
    """A plain-text table: input, top-1 class and score, then the top-k
    (as many as there are classes, and so named)."""
    rows = [('input', 'class', 'score', f'top-{min(topk, len(classnames))}')]
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
    """Classifies the inputs, prints the table; 1 if every input was
    skipped."""
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
