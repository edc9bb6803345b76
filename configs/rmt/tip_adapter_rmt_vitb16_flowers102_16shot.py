_base_ = ['./rmt_vitb16_flowers102_16shot.py']
# Tip-Adapter + R-AMT, Flowers102 (README.md, "Combinations"): the cache
# is built at step 0, the masks train with it in the loop.
model = dict(adapter=dict(type='RMTTipAdapter', alpha=1.0, beta=5.5))
