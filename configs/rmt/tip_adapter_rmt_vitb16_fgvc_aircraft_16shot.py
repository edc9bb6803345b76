_base_ = ['./rmt_vitb16_fgvc_aircraft_16shot.py']
# Tip-Adapter + R-AMT, FGVCAircraft (README.md, "Combinations"): the cache
# is built at step 0, the masks train with it in the loop.
model = dict(adapter=dict(type='RMTTipAdapter', alpha=1.0, beta=5.5))
