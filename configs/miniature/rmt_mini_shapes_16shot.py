# R-AMT, 16 shots, on the miniature world's "shapes" task: 6 classes, one
# per shape, any colour, on cluttered backgrounds.
_base_ = './rmt_mini_compositions_16shot.py'
data_root = 'data/miniature/shapes'
model = dict(data_preprocessor=dict(num_classes=6))
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
