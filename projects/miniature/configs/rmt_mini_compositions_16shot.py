# R-AMT, 16 shots, on the miniature world's "compositions" task: 36 classes
# "<colour> <shape>" on cluttered backgrounds (a style pre-training never
# saw; 6 of the pairs were held out of pre-training). Write the images first:
#   python projects/miniature/tools/miniature.py tasks --out data/miniature
_base_ = [
    '../../../configs/_base_/default_runtime.py',
    '../../../configs/_base_/schedules/rmt_adam_30e.py', './mini_clip_model.py'
]
model = dict(data_preprocessor=dict(num_classes=36))
# The paper's recipe (lr 8e-5, 30 epochs, per-epoch cosine, batch 32) and its
# training augmentation at the world's 32 px: random resized crop (scale 0.5
# to 1) and horizontal flip (no class of either task depends on left/right).
default_hooks = dict(logger=dict(interval=10))

train_pipeline = [
    dict(type='RMTLoadImage'),
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.5, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs')
]
# The images are 32 px already; other sizes are brought to it.
test_pipeline = [
    dict(type='RMTLoadImage'),
    dict(type='ResizeEdge', scale=32, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=32),
    dict(type='PackInputs')
]
dataset = dict(
    type='RMTFewShotImageFolder',
    data_root='data/miniature/compositions',
    classnames='classnames.json',
    num_shots=16,
    seed=1,
    subsample='all')
loader = dict(num_workers=0, collate_fn=dict(type='default_collate'))
train_dataloader = dict(
    batch_size=32,
    sampler=dict(type='RMTGlobalBatchSampler', shuffle=True),
    dataset=dict(dataset, split='train', pipeline=train_pipeline),
    **loader)
val_dataloader = dict(
    batch_size=256,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, split='val', pipeline=test_pipeline),
    **loader)
test_dataloader = dict(
    batch_size=256,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, split='test', pipeline=test_pipeline),
    **loader)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
