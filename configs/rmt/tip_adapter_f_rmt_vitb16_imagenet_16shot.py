_base_ = ['./rmt_vitb16_imagenet_16shot.py']
# Tip-Adapter-F + R-AMT, ImageNet (README.md, "Combinations"): keys and
# masks train together; the keys at Tip-Adapter-F's lr 1e-3 (ImageNet's
# R-AMT lr is 3e-5, so the multiplier is 1e-3 / 3e-5).
model = dict(
    adapter=dict(type='RMTTipAdapter', alpha=1.0, beta=5.5,
                 fine_tune_keys=True))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'adapter.keys': dict(lr_mult=1e-3 / 3e-5)}))
