_base_ = ['./rmt_vitb16_caltech101_16shot.py']
# Tip-Adapter-F + R-AMT, Caltech101 (README.md, "Combinations"): keys and
# masks train together; the keys at Tip-Adapter-F's lr 1e-3.
model = dict(
    adapter=dict(type='RMTTipAdapter', alpha=1.0, beta=5.5,
                 fine_tune_keys=True))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'adapter.keys': dict(lr_mult=12.5)}))
