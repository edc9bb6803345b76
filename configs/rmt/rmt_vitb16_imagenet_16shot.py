_base_ = [
    '../_base_/models/rmt_vitb16.py',
    '../_base_/datasets/imagenet.py',
    '../_base_/schedules/rmt_adam_30e.py',
    '../_base_/default_runtime.py',
]
# R-AMT, CLIP ViT-B/16, 16 shots (method.md: lambda 1.0).
# ImageNet: lr 3e-5 for 10 epochs; its val split is the 50k test set, so
# training runs without validation.
optim_wrapper = dict(lam=1.0, optimizer=dict(lr=3e-5))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=10, eta_min=0.)
]
train_cfg = dict(max_epochs=10, val_interval=10)
val_dataloader = None
val_cfg = None
val_evaluator = None
