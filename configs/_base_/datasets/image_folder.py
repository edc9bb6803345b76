# One's own images, one folder per class (FewShotImageFolder; README "Your
# own dataset"). Photos are turned upright by their EXIF orientation.
_base_ = './fewshot.py'
# On one's own data no protocol asks for the last epoch: keep the epoch best
# on the validation split, zero-shot CLIP included.
default_hooks = dict(model_selection=dict(select='best_val'))
train_dataloader = dict(dataset=dict(type='FewShotImageFolder', data_root='data/my_dataset'))
val_dataloader = dict(dataset=dict(type='FewShotImageFolder', data_root='data/my_dataset'))
test_dataloader = dict(dataset=dict(type='FewShotImageFolder', data_root='data/my_dataset'))
