# Tip-Adapter-F on the demo digits: the cache keys train (AdamW lr 1e-3,
# eps 1e-4, cosine), alpha/beta searched on val/.
_base_ = ['./rmt_tiny_digits.py']
model = dict(
    backbone=dict(mask_targets=None),
    adapter=dict(type='RMTTipAdapter', alpha=1.0, beta=5.5,
                 fine_tune_keys=True),
    regularizer=None)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, eps=1e-4))
val_dataloader = dict(dataset=dict(split='val'))
