# ImageNet (val = test = the official validation set): 1000 classes. Layout: docs/data_preparation.md.
_base_ = './fewshot.py'
data_preprocessor = dict(num_classes=1000)
train_dataloader = dict(dataset=dict(type='RMTFewShotImageNet', data_root='data/imagenet'))
val_dataloader = dict(dataset=dict(type='RMTFewShotImageNet', data_root='data/imagenet'))
test_dataloader = dict(dataset=dict(type='RMTFewShotImageNet', data_root='data/imagenet'))
