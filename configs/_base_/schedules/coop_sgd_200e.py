# CoOp's recipe: SGD lr 2e-3 (momentum 0.9, weight decay 5e-4), one warm-up
# epoch at constant lr 1e-5, then cosine; batch 32; 200 epochs at 16 and 8
# shots (tools/sweep.py sets 100 at 4 and 2 shots, 50 at 1). Augmentation:
# random resized crop with scale (0.08, 1) and flip (coop_train_pipeline,
# which each CoOp config puts into its train_dataloader).
global_batch_size = 32
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=2e-3, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='ConstantLR', by_epoch=True, factor=5e-3, begin=0, end=1),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=200,
         T_max=199, eta_min=0.),
]
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=200)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=32, enable=False)
coop_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
