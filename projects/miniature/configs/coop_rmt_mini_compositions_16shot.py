# CoOp + R-AMT on "compositions": the R-AMT recipe with a CoOp head; context
# and masks train together (configs/rmt/README.md).
_base_ = './rmt_mini_compositions_16shot.py'
model = dict(head=dict(type='RMTCoOpHead', num_context=4))
