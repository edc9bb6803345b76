_base_ = ['./rmt_vitb16_oxford_pets_16shot.py']
# CoOp + R-AMT, trained together with the R-AMT recipe, OxfordPets
# (README.md, "Combinations"): the context gets plain gradients.
model = dict(head=dict(type='RMTCoOpHead', num_context=16, init_std=0.02))
