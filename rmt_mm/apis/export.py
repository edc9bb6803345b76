"""Folding R-AMT masks into CLIP's weights (``tools/export.py``): a plain
open_clip state dict that loads with open_clip itself and runs as fast as
the original model."""
from typing import Optional

import torch
from mmengine.runner import set_random_seed
from mmpretrain.registry import MODELS

from ..models import MaskedCLIP
from .inferencer import load_config


def export_clip(config: str,
                mask_file: str,
                out: str,
                cfg_options: Optional[dict] = None,
                allow_other_weights: bool = False) -> MaskedCLIP:
    """Saves the config's CLIP with the mask file's masks folded into its
    weights as an open_clip state dict.

    Args:
        config: The config the masks were trained with (for the
            architecture and the pretrained source).
        mask_file: A mask file (``masks_*.pth``).
        out: The state dict's file.
        cfg_options: Config overrides.
        allow_other_weights: Fold the masks into CLIP weights other than
            those they were learned on (refused by default).

    Returns:
        The masked CLIP the state dict comes from.
    """
    cfg = load_config(config, cfg_options)
    # Without pretrained weights CLIP is drawn from the run's seed, as the
    # Runner does before it builds the model.
    seed = (cfg.get('randomness') or {}).get('seed')
    if seed is not None:
        set_random_seed(seed)
    model = MODELS.build(dict(cfg.model.backbone, mask_file=mask_file,
                              allow_other_weights=allow_other_weights))
    torch.save(model.export_state_dict(), out)
    return model
