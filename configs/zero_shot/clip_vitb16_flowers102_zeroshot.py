_base_ = [
    '../_base_/models/clip_vitb16.py',
    '../_base_/datasets/flowers102.py',
    '../_base_/default_runtime.py',
]
# Zero-shot CLIP ViT-B/16 on Flowers102: nothing trains; test with
# tools/test.py CONFIG (no checkpoint).
