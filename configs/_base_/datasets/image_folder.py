# One's own images (README "Your own dataset"); keeps the best epoch on val.
_base_ = './fewshot.py'
model_selection = 'best_val'
train_dataloader = dict(dataset=dict(type='RMTFewShotImageFolder', data_root='data/my_dataset'))
val_dataloader = dict(dataset=dict(type='RMTFewShotImageFolder', data_root='data/my_dataset'))
test_dataloader = dict(dataset=dict(type='RMTFewShotImageFolder', data_root='data/my_dataset'))
