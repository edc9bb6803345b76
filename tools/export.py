"""Fold R-AMT masks into CLIP's weights: a plain open_clip state dict.

    python tools/export.py CONFIG MASK_FILE --out clip_rmt.pt

The result loads with open_clip itself, e.g.
``open_clip.create_model('ViT-B-16-quickgelu', pretrained='clip_rmt.pt')``,
and runs as fast as the original model.
"""
import argparse
from typing import Optional, Sequence

import rmt_mm  # noqa: F401  (registers components, applies shims)
from rmt_mm.apis.export import export_clip
from rmt_mm.runs import refuse_bad_files
from rmt_mm.runs.user_config import CfgOptionsAction


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the config the masks were trained '
                        'with (for the architecture and pretrained source)')
    parser.add_argument('masks', help='a mask file (masks_*.pth)')
    parser.add_argument('--out', required=True, help='output state dict')
    parser.add_argument(
        '--allow-other-weights',
        action='store_true',
        help='fold the masks into CLIP weights other than those they were '
        'learned on (refused by default)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override config entries, e.g. '
        'model.backbone.pretrained=/models/ViT-B-16.pt')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> str:
    """Writes the state dict and returns its path."""
    args = parse_args(argv)
    model = export_clip(args.config, args.masks, args.out, args.cfg_options,
                        args.allow_other_weights)
    print(f'Wrote {args.out}: {model.arch!r} with '
          f'{model.sparsity()["overall"]:.2%} of the masked entries off')
    return args.out


if __name__ == '__main__':
    with refuse_bad_files():
        main()
