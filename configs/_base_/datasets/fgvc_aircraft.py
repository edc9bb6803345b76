# FGVC-Aircraft with its official splits: 100 classes. Layout: docs/data_preparation.md.
_base_ = './fewshot.py'
data_preprocessor = dict(num_classes=100)
train_dataloader = dict(dataset=dict(type='RMTFewShotFGVCAircraft', data_root='data/fgvc_aircraft'))
val_dataloader = dict(dataset=dict(type='RMTFewShotFGVCAircraft', data_root='data/fgvc_aircraft'))
test_dataloader = dict(dataset=dict(type='RMTFewShotFGVCAircraft', data_root='data/fgvc_aircraft'))
