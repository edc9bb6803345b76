# Caltech101 with CoOp's split: 100 classes. Layout: docs/data_preparation.md.
_base_ = './fewshot.py'
data_preprocessor = dict(num_classes=100)
train_dataloader = dict(dataset=dict(type='RMTFewShotCaltech101', data_root='data/caltech-101'))
val_dataloader = dict(dataset=dict(type='RMTFewShotCaltech101', data_root='data/caltech-101'))
test_dataloader = dict(dataset=dict(type='RMTFewShotCaltech101', data_root='data/caltech-101'))
