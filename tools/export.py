"""Fold R-AMT masks into CLIP's weights: a plain open_clip state dict.

    python tools/export.py CONFIG MASK_FILE --out clip_rmt.pt

The result loads with open_clip itself, e.g.
``open_clip.create_model('ViT-B-16-quickgelu', pretrained='clip_rmt.pt')``,
and runs as fast as the original model.
"""
import argparse

import torch
from mmengine.runner import set_random_seed
from mmpretrain.registry import MODELS

import rmt_mm  # noqa: F401  (registers components, applies shims)
from rmt_mm.runs import refuse_bad_files
from rmt_mm.fileio.config_file import read_config
from rmt_mm.runs.user_config import CfgOptionsAction


def parse_args(argv=None) -> argparse.Namespace:
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


def main(argv=None) -> str:
    args = parse_args(argv)
    cfg = read_config(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # Without pretrained weights CLIP is drawn from the run's seed, as the
    # Runner does before it builds the model.
    seed = (cfg.get('randomness') or {}).get('seed')
    if seed is not None:
        set_random_seed(seed)
    backbone = dict(cfg.model.backbone, mask_file=args.masks,
                    allow_other_weights=args.allow_other_weights)
    model = MODELS.build(backbone)
    torch.save(model.export_state_dict(), args.out)
    print(f'Wrote {args.out}: {model.arch!r} with '
          f'{model.sparsity()["overall"]:.2%} of the masked entries off')
    return args.out


if __name__ == '__main__':
    with refuse_bad_files():
        main()
