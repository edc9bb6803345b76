_base_ = [
    '../_base_/models/tip_adapter_vitb16.py',
    '../_base_/datasets/food101.py',
    '../_base_/schedules/tip_adapter_f_adamw_20e.py',
    '../_base_/default_runtime.py',
]
# Tip-Adapter (training-free), CLIP ViT-B/16, 16 shots, Food101: test
# with tools/test.py CONFIG (no checkpoint) to build the cache.
