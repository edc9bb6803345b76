# Describable Textures with CoOp's split: 47 classes. Layout: docs/data_preparation.md.
_base_ = './fewshot.py'
data_preprocessor = dict(num_classes=47)
train_dataloader = dict(dataset=dict(type='RMTFewShotDTD', data_root='data/dtd'))
val_dataloader = dict(dataset=dict(type='RMTFewShotDTD', data_root='data/dtd'))
test_dataloader = dict(dataset=dict(type='RMTFewShotDTD', data_root='data/dtd'))
