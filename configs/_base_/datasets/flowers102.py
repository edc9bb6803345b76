# Oxford Flowers-102 with CoOp's split: 102 classes. Layout: docs/data_preparation.md.
_base_ = './fewshot.py'
data_preprocessor = dict(num_classes=102)
train_dataloader = dict(dataset=dict(type='RMTFewShotFlowers102', data_root='data/oxford_flowers'))
val_dataloader = dict(dataset=dict(type='RMTFewShotFlowers102', data_root='data/oxford_flowers'))
test_dataloader = dict(dataset=dict(type='RMTFewShotFlowers102', data_root='data/oxford_flowers'))
