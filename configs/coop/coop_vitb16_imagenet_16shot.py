_base_ = [
    '../_base_/models/coop_vitb16.py',
    '../_base_/datasets/imagenet.py',
    '../_base_/schedules/coop_sgd_200e.py',
    '../_base_/default_runtime.py',
]
# CoOp, CLIP ViT-B/16, 16 shots, ImageNet.
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.coop_train_pipeline}}))
# CoOp trains ImageNet for 50 epochs at every shot count; its val split
# is the test set, so no validation.
param_scheduler = [
    dict(type='ConstantLR', by_epoch=True, factor=5e-3, begin=0, end=1),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=50,
         T_max=49, eta_min=0.),
]
train_cfg = dict(max_epochs=50, val_interval=50)
val_dataloader = None
val_cfg = None
val_evaluator = None
