"""Test helpers: tiny random open_clip models, their weight files and a
fabricated image-folder dataset."""
import os

import numpy as np
import torch
from PIL import Image

TINY_VIT = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=32, layers=2, width=32, patch_size=8,
                    head_width=16),
    text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2,
                  layers=1))
TINY_RESNET = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=64, layers=(1, 1, 1, 1), width=8),
    text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2,
                  layers=1))


def save_random_weights(arch: dict, path: str, seed: int = 0) -> str:
    """Builds a random open_clip model and saves its state dict."""
    import open_clip
    torch.manual_seed(seed)
    torch.save(open_clip.CLIP(**arch).state_dict(), path)
    return path


def make_image_folder(root: str, classes=('cat', 'dog', 'bird'),
                      per_class: int = 6, size: int = 40) -> str:
    """Writes ``root/<split>/<class>/*.png`` with class-dependent colours."""
    rng = np.random.default_rng(0)
    for split, count in (('train', per_class), ('test', per_class // 2)):
        for label, name in enumerate(classes):
            folder = os.path.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                pixels = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
                pixels[..., label % 3] += 150
                Image.fromarray(pixels).save(
                    os.path.join(folder, f'{i:03d}.png'))
    return root
