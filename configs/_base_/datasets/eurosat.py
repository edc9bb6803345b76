# EuroSAT with CoOp's split: 10 classes. Layout: docs/data_preparation.md.
_base_ = './fewshot.py'
data_preprocessor = dict(num_classes=10)
train_dataloader = dict(dataset=dict(type='RMTFewShotEuroSAT', data_root='data/eurosat'))
val_dataloader = dict(dataset=dict(type='RMTFewShotEuroSAT', data_root='data/eurosat'))
test_dataloader = dict(dataset=dict(type='RMTFewShotEuroSAT', data_root='data/eurosat'))
