# R-AMT, 16 shots, on the miniature world's "compositions" task: 36 classes
# "<colour> <shape>" on cluttered backgrounds (a style pre-training never
# saw; 6 of the pairs were held out of pre-training). Write the images first:
#   python tools/miniature.py tasks --out data/miniature
_base_ = [
    '../_base_/default_runtime.py', '../_base_/schedules/rmt_adam_30e.py',
    '../_base_/models/rmt_mini_clip.py'
]
model = dict(data_preprocessor=dict(num_classes=36))
optim_wrapper = dict(optimizer=dict(lr=1e-4))
train_cfg = dict(max_epochs=10, val_interval=10)
default_hooks = dict(logger=dict(interval=10))

# The images are 32 px already; other sizes are brought to it.
pipeline = [
    dict(type='RMTLoadImage'),
    dict(type='ResizeEdge', scale=32, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=32),
    dict(type='PackInputs')
]
dataset = dict(
    type='FewShotImageFolder',
    data_root='data/miniature/compositions',
    classnames='classnames.json',
    num_shots=16,
    seed=1,
    subsample='all',
    pipeline=pipeline)
loader = dict(num_workers=0, collate_fn=dict(type='default_collate'))
train_dataloader = dict(
    batch_size=32,
    sampler=dict(type='RMTGlobalBatchSampler', shuffle=True),
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
