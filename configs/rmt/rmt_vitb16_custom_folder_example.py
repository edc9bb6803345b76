_base_ = './rmt_vitb16_imagenet_16shot.py'
# Own images, one folder per class (see FewShotImageFolder); 16 shots: lam=0.3.
dataset_type = 'FewShotImageFolder'
data_root = 'data/my_dataset'
train_dataloader = dict(dataset=dict(_delete_=True, type=dataset_type, data_root=data_root,
    split='train', num_shots=16, seed=1, pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(_delete_=True, type=dataset_type, data_root=data_root,
    split='val', num_shots=16, seed=1, pipeline=_base_.test_pipeline))
test_dataloader = dict(dataset=dict(_delete_=True, type=dataset_type, data_root=data_root,
    split='test', pipeline=_base_.test_pipeline))
