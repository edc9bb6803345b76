# Tip-Adapter-F on "compositions": the cache keys train (AdamW lr 1e-3, eps
# 1e-4, cosine, its paper's 20 epochs), alpha and beta searched on val/.
_base_ = './tip_adapter_mini_compositions_16shot.py'
model = dict(adapter=dict(fine_tune_keys=True))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, eps=1e-4))
train_cfg = dict(max_epochs=20, val_interval=20)
