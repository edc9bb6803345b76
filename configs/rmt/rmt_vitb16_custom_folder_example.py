# Own images, one folder per class (FewShotImageFolder); generic 16-shot recipe
_base_ = './rmt_vitb16_dtd_16shot.py'
folder = dict(type='FewShotImageFolder', data_root='data/my_dataset', seed=1,
              num_shots=16)
train_dataloader = dict(dataset=dict(
    folder, _delete_=True, split='train', pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(
    folder, _delete_=True, split='val', pipeline=_base_.test_pipeline))
test_dataloader = dict(dataset=dict(
    folder, _delete_=True, split='test', pipeline=_base_.test_pipeline))
