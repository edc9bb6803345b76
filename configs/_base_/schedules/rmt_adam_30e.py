# The paper's schedule: Adam on the mask scores, cosine per epoch, no
# warm-up, global batch 32 (tools/train.py splits it over the processes).
global_batch_size = 32
optim_wrapper = dict(
    type='GradDropoutOptimWrapper',
    lam=0.3,
    optimizer=dict(type='Adam', lr=8e-5, betas=(0.9, 0.999), weight_decay=0.),
)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=30, eta_min=0.)
]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=30)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=32, enable=True)
