# Oxford-IIIT Pets with CoOp's split: 37 classes. Layout: docs/data_preparation.md.
_base_ = './fewshot.py'
data_preprocessor = dict(num_classes=37)
train_dataloader = dict(dataset=dict(type='RMTFewShotOxfordPets', data_root='data/oxford_pets'))
val_dataloader = dict(dataset=dict(type='RMTFewShotOxfordPets', data_root='data/oxford_pets'))
test_dataloader = dict(dataset=dict(type='RMTFewShotOxfordPets', data_root='data/oxford_pets'))
