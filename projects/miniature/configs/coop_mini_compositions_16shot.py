# CoOp on "compositions": 4 context vectors (the miniature text encoder takes
# 16 tokens), CoOp's SGD with a warm-up epoch and cosine; lr chosen on val/
# for the run's 180 steps (README.md, "Every method on the miniature world").
_base_ = './rmt_mini_compositions_16shot.py'
model = dict(
    backbone=dict(mask_targets=None),
    head=dict(type='RMTCoOpHead', num_context=4),
    regularizer=None)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='ConstantLR', by_epoch=True, factor=5e-3, begin=0, end=1),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=10, T_max=9,
         eta_min=0.),
]
# CoOp's own length on this world (its 10 epochs x 18 updates), not R-AMT's.
train_cfg = dict(max_epochs=10, val_interval=10)
