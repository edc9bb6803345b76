# SUN397 with CoOp's split: 397 classes. Layout: docs/data_preparation.md.
_base_ = './fewshot.py'
data_preprocessor = dict(num_classes=397)
train_dataloader = dict(dataset=dict(type='RMTFewShotSUN397', data_root='data/sun397'))
val_dataloader = dict(dataset=dict(type='RMTFewShotSUN397', data_root='data/sun397'))
test_dataloader = dict(dataset=dict(type='RMTFewShotSUN397', data_root='data/sun397'))
