# One's own images, one folder per class (FewShotImageFolder; README "Your
# own dataset"). Photos are turned upright by their EXIF orientation.
_base_ = './fewshot.py'
train_dataloader = dict(dataset=dict(type='FewShotImageFolder', data_root='data/my_dataset'))
val_dataloader = dict(dataset=dict(type='FewShotImageFolder', data_root='data/my_dataset'))
test_dataloader = dict(dataset=dict(type='FewShotImageFolder', data_root='data/my_dataset'))
