# Zero-shot CLIP on the demo digits (the tiny random CLIP without masks):
# the first row of `python tools/demo.py --methods`.
_base_ = ['./rmt_tiny_digits.py']
model = dict(backbone=dict(mask_targets=None), regularizer=None)
