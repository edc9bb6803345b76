# Tip-Adapter-F's recipe: the cache keys train with AdamW (lr 1e-3, eps
# 1e-4), cosine over 20 epochs, batch 256. Training-free Tip-Adapter runs
# no epoch (tools/test.py builds its cache and searches alpha and beta).
global_batch_size = 256
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, eps=1e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=20, eta_min=0.)
]
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=20)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256, enable=False)
