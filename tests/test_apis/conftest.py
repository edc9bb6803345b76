"""A tiny config, its random CLIP weights and two random mask files."""
import os

import pytest
from rmt_testing import (TINY_VIT, make_image_folder, random_mask_file,
                         save_random_weights, write_tiny_config)

from rmt_mm.models import MaskedCLIP


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """Files of a tiny R-AMT setup: image folder, weights, config, masks."""
    root = str(tmp_path_factory.mktemp('tiny'))
    data = make_image_folder(os.path.join(root, 'data'))
    weights = save_random_weights(TINY_VIT, os.path.join(root, 'clip.pt'))
    config = write_tiny_config(os.path.join(root, 'tiny.py'), data)
    clip = MaskedCLIP(arch=TINY_VIT, pretrained=weights)
    return dict(
        root=root, data=data, weights=weights, config=config,
        options={'model.backbone.pretrained': weights},
        masks=[random_mask_file(clip, os.path.join(root, f'masks_{i}.pth'),
                                seed=i) for i in range(2)])
