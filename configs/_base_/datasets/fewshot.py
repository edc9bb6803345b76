# What every few-shot dataset config shares (method.md section 6): CLIP's
# preprocessing, the train and test pipelines, the loaders and the metric.
# A dataset config inherits it and states only its own values, e.g.
#   _base_ = './fewshot.py'
#   data_preprocessor = dict(num_classes=47)
#   train_dataloader = dict(dataset=dict(type='RMTFewShotDTD', data_root='data/dtd'))
#   val_dataloader = dict(dataset=dict(type='RMTFewShotDTD', data_root='data/dtd'))
#   test_dataloader = dict(dataset=dict(type='RMTFewShotDTD', data_root='data/dtd'))
# Shots, seed and data folder: tools/train.py --shots K --seed S --data-root
# DIR (the validation subset holds min(K, 4) images per class, as in CoOp).
# Decoding: RMTLoadImage reads images as each dataset asks (the CoOp datasets
# ignore EXIF orientation, as the reference does; FewShotImageFolder applies
# it).
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=None,
    # CLIP's RGB mean and std, times 255
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    to_rgb=True)

train_pipeline = [
    dict(type='RMTLoadImage'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.5, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]

test_pipeline = [
    dict(type='RMTLoadImage'),
    dict(
        type='ResizeEdge',
        scale=224,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    # Each epoch's augmentations come from fresh workers (RMTEpochSeedHook).
    persistent_workers=False,
    # Dassl's drop_last, decided by the global batch (tools/train.py fills
    # in global_batch_size).
    sampler=dict(type='RMTGlobalBatchSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        split='train',
        num_shots=16,
        seed=1,
        subsample='all',
        pipeline=train_pipeline))

val_dataloader = dict(
    batch_size=100,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        split='val',
        num_shots=16,
        seed=1,
        subsample='all',
        pipeline=test_pipeline))

test_dataloader = dict(
    batch_size=100,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(split='test', subsample='all', pipeline=test_pipeline))

val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
