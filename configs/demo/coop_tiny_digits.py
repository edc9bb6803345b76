# CoOp on the demo digits: 4 context vectors (the tiny text encoder takes
# 16 tokens), SGD with a warm-up epoch and cosine, as CoOp; the lr is raised
# for a random CLIP.
_base_ = ['./rmt_tiny_digits.py']
model = dict(
    backbone=dict(mask_targets=None),
    head=dict(type='RMTCoOpHead', num_context=4),
    regularizer=None)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.5, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='ConstantLR', by_epoch=True, factor=5e-3, begin=0, end=1),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=20, T_max=19,
         eta_min=0.),
]
