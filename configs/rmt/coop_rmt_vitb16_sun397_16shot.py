_base_ = ['./rmt_vitb16_sun397_16shot.py']
# CoOp + R-AMT, trained together with the R-AMT recipe, SUN397
# (README.md, "Combinations"): the context gets plain gradients.
model = dict(head=dict(type='RMTCoOpHead', num_context=16, init_std=0.02))
