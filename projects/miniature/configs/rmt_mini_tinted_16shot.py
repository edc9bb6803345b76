# R-AMT, 16 shots, on the miniature world's "tinted" task: the 36 classes of
# "compositions" in the pre-training's plain style, each on a background
# colour of its own (a shift that differs from class to class, none shared
# by all). Made for base-to-new: what is learned on the base classes' tints
# says nothing about the new classes'.
_base_ = './rmt_mini_compositions_16shot.py'
train_dataloader = dict(dataset=dict(data_root='data/miniature/tinted'))
val_dataloader = dict(dataset=dict(data_root='data/miniature/tinted'))
test_dataloader = dict(dataset=dict(data_root='data/miniature/tinted'))
