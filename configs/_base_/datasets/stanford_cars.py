# Stanford Cars with CoOp's split: 196 classes. Layout: docs/data_preparation.md.
_base_ = './fewshot.py'
data_preprocessor = dict(num_classes=196)
train_dataloader = dict(dataset=dict(type='RMTFewShotStanfordCars', data_root='data/stanford_cars'))
val_dataloader = dict(dataset=dict(type='RMTFewShotStanfordCars', data_root='data/stanford_cars'))
test_dataloader = dict(dataset=dict(type='RMTFewShotStanfordCars', data_root='data/stanford_cars'))
