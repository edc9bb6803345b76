_base_ = [
    '../_base_/models/clip_vitb16.py',
    '../_base_/datasets/food101.py',
    '../_base_/default_runtime.py',
]
# Zero-shot CLIP ViT-B/16 on Food101: nothing trains; test with
# tools/test.py CONFIG (no checkpoint).
