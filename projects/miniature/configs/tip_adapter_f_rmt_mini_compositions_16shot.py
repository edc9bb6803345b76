# Tip-Adapter-F + R-AMT on "compositions": keys (at Tip-Adapter-F's lr 1e-3)
# and masks (R-AMT's 8e-5) train together.
_base_ = './tip_adapter_rmt_mini_compositions_16shot.py'
model = dict(adapter=dict(fine_tune_keys=True))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'adapter.keys': dict(lr_mult=12.5)}))
