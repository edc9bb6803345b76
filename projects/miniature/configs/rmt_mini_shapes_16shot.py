# R-AMT, 16 shots, on the miniature world's "shapes" task: 6 classes, one
# per shape, any colour, on cluttered backgrounds.
_base_ = './rmt_mini_compositions_16shot.py'
model = dict(data_preprocessor=dict(num_classes=6))
train_dataloader = dict(dataset=dict(data_root='data/miniature/shapes'))
val_dataloader = dict(dataset=dict(data_root='data/miniature/shapes'))
test_dataloader = dict(dataset=dict(data_root='data/miniature/shapes'))
