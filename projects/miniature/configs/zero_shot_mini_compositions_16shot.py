# Zero-shot miniature CLIP on "compositions" (no masks, nothing trains): the
# first row of `python tools/demo.py --methods`.
_base_ = './rmt_mini_compositions_16shot.py'
model = dict(backbone=dict(mask_targets=None), regularizer=None)
