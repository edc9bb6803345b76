# The paper's schedule: Adam on the mask scores, cosine per epoch over the
# run's real length (no T_max: it follows train_cfg.max_epochs), no warm-up,
# global batch 32 (tools/train.py splits it over the processes) and a fixed
# learning rate. lam='auto' takes method.md section 5's lambda for the run's
# dataset and shots when training starts; a number overrides it.
global_batch_size = 32
optim_wrapper = dict(
    type='RMTGradDropoutOptimWrapper',
    lam='auto',
    optimizer=dict(type='Adam', lr=8e-5, betas=(0.9, 0.999), weight_decay=0.),
)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, eta_min=0.)]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=30)
val_cfg = dict()
test_cfg = dict()
# Off, as in the paper; --auto-scale-lr scales by processes x per-process
# batch x accumulation steps over base_batch_size.
auto_scale_lr = dict(base_batch_size=32, enable=False)
