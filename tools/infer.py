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
import sys
from typing import Optional, Sequence

from rmt_mm.runs import refuse_bad_files
from rmt_mm.runs.infer import run_inference, split_paths
from rmt_mm.runs.user_config import CfgOptionsAction


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
    try:
        args.config, args.masks, args.inputs = split_paths(args.paths,
                                                           args.masks)
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Classifies the inputs, prints the table; 1 if every input was
    skipped."""
    return run_inference(parse_args(argv))


if __name__ == '__main__':
    with refuse_bad_files():
        sys.exit(main())
