# R-AMT, 16 shots, on the miniature world's "compositions" task: 36 classes
# "<colour> <shape>" on cluttered backgrounds (a style pre-training never
# saw; 6 of the pairs were held out of pre-training). Write the images first:
#   python tools/miniature.py tasks --out data/miniature
_base_ = [
    '../_base_/default_runtime.py', '../_base_/schedules/rmt_adam_30e.py',
    '../_base_/models/rmt_mini_clip.py'
]
data_root = 'data/miniature/compositions'
model = dict(data_preprocessor=dict(num_classes=36))
optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=10, eta_min=0.)
]
train_cfg = dict(max_epochs=10, val_interval=10)
default_hooks = dict(logger=dict(interval=10))

# The images are already 32 px: no resizing.
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
dataset = dict(
    type='FewShotImageFolder',
    data_root=data_root,
    classnames='classnames.json',
    num_shots=16,
    seed=1,
    subsample='all',
    pipeline=pipeline)
loader = dict(num_workers=0, collate_fn=dict(type='default_collate'))
train_dataloader = dict(
    batch_size=32,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(dataset, split='train'),
    **loader)
val_dataloader = dict(
    batch_size=256,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, split='val'),
    **loader)
test_dataloader = dict(
    batch_size=256,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, split='test'),
    **loader)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
