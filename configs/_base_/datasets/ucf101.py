# UCF101 middle frames with CoOp's split: 101 classes. Layout: docs/data_preparation.md.
_base_ = './fewshot.py'
data_preprocessor = dict(num_classes=101)
train_dataloader = dict(dataset=dict(type='RMTFewShotUCF101', data_root='data/ucf101'))
val_dataloader = dict(dataset=dict(type='RMTFewShotUCF101', data_root='data/ucf101'))
test_dataloader = dict(dataset=dict(type='RMTFewShotUCF101', data_root='data/ucf101'))
