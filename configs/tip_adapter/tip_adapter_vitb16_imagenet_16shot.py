_base_ = [
    '../_base_/models/tip_adapter_vitb16.py',
    '../_base_/datasets/imagenet.py',
    '../_base_/schedules/tip_adapter_f_adamw_20e.py',
    '../_base_/default_runtime.py',
]
# Tip-Adapter (training-free), CLIP ViT-B/16, 16 shots, ImageNet: test
# with tools/test.py CONFIG (no checkpoint) to build the cache.
# ImageNet has no validation split of its own: alpha and beta stay at the
# config's values (never searched on the test set).
val_dataloader = None
val_cfg = None
val_evaluator = None
