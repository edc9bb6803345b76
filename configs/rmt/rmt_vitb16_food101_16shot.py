_base_ = [
    '../_base_/models/rmt_vitb16.py',
    '../_base_/datasets/food101.py',
    '../_base_/schedules/rmt_adam_30e.py',
    '../_base_/default_runtime.py',
]
# R-AMT, CLIP ViT-B/16, 16 shots; lambda 'auto' gives 1.0 (method.md 5).
