# R-AMT on one's own images (one folder per class) with the paper's generic
# 16-shot recipe. Copy it and change data_root, or keep it and train with
# --data-root DIR (DIR/my_dataset); --shots K picks the low-shot recipe.
_base_ = [
    '../_base_/models/rmt_vitb16.py',
    '../_base_/datasets/image_folder.py',
    '../_base_/schedules/rmt_adam_30e.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(dataset=dict(data_root='data/my_dataset'))
val_dataloader = dict(dataset=dict(data_root='data/my_dataset'))
test_dataloader = dict(dataset=dict(data_root='data/my_dataset'))
