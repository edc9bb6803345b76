# Describable Textures with CoOp's split: 47 classes.
# Layout and downloads: docs/data_preparation.md.
# The validation split holds min(num_shots, 4) images per class, as in CoOp;
# set val_dataloader.dataset.num_shots/seed along with the training ones.
dataset_type = 'FewShotDTD'
data_root = 'data/dtd'
num_shots = 16

data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=47,
    # CLIP's RGB mean and std, times 255
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
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
    dict(type='LoadImageFromFile'),
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
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        num_shots=num_shots,
        seed=1,
        subsample='all',
        pipeline=train_pipeline))

val_dataloader = dict(
    batch_size=100,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        num_shots=num_shots,
        seed=1,
        subsample='all',
        pipeline=test_pipeline))

test_dataloader = dict(
    batch_size=100,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        subsample='all',
        pipeline=test_pipeline))

val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
