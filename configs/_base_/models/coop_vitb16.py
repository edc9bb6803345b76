# CoOp (method.md section 9): 16 learnable context vectors shared by all
# classes, class token at the end; only the context trains.
_base_ = ['./clip_vitb16.py']
model = dict(head=dict(type='RMTCoOpHead', num_context=16, init_std=0.02))
