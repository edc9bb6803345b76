# Tip-Adapter-F + R-AMT on the demo digits: keys (lr 1e-3) and masks train
# together.
_base_ = ['./rmt_tiny_digits.py']
model = dict(
    adapter=dict(type='RMTTipAdapter', alpha=1.0, beta=5.5,
                 fine_tune_keys=True))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'adapter.keys': dict(lr_mult=10.0)}))
val_dataloader = dict(dataset=dict(split='val'))
