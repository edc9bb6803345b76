"""Fold R-AMT masks into CLIP's weights: a plain open_clip state dict.

    python tools/export.py CONFIG MASK_FILE --out clip_rmt.pt

The result loads with open_clip itself, e.g.
``open_clip.create_model('ViT-B-16-quickgelu', pretrained='clip_rmt.pt')``,
and runs as fast as the original model.
"""
import argparse

import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

import rmt_mm  # noqa: F401  (registers components, applies shims)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the config the masks were trained '
                        'with (for the architecture and pretrained source)')
    parser.add_argument('masks', help='a mask file (masks_*.pth)')
    parser.add_argument('--out', required=True, help='output state dict')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    backbone = dict(Config.fromfile(args.config).model.backbone,
                    mask_file=args.masks)
    model = MODELS.build(backbone)
    torch.save(model.export_state_dict(), args.out)
    print(f'Wrote {args.out}: {model.arch!r} with '
          f'{model.sparsity()["overall"]:.2%} of the masked entries off')
    return args.out


if __name__ == '__main__':
    main()
