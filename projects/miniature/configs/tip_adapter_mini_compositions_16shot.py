# Tip-Adapter on "compositions": training-free; tools/test.py builds the
# cache from the 16 shots and searches alpha and beta on val/.
_base_ = './rmt_mini_compositions_16shot.py'
model = dict(
    backbone=dict(mask_targets=None),
    adapter=dict(type='RMTTipAdapter', alpha=1.0, beta=5.5),
    regularizer=None)
