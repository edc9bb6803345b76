# Tip-Adapter on the demo digits: training-free (tools/test.py builds the
# cache and searches alpha/beta on the val/ images of `demo.py --methods`).
_base_ = ['./rmt_tiny_digits.py']
model = dict(
    backbone=dict(mask_targets=None),
    adapter=dict(type='RMTTipAdapter', alpha=1.0, beta=5.5),
    regularizer=None)
val_dataloader = dict(dataset=dict(split='val'))
