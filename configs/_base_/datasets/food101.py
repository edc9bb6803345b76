# Food-101 with CoOp's split: 101 classes. Layout: docs/data_preparation.md.
_base_ = './fewshot.py'
data_preprocessor = dict(num_classes=101)
train_dataloader = dict(dataset=dict(type='RMTFewShotFood101', data_root='data/food-101'))
val_dataloader = dict(dataset=dict(type='RMTFewShotFood101', data_root='data/food-101'))
test_dataloader = dict(dataset=dict(type='RMTFewShotFood101', data_root='data/food-101'))
