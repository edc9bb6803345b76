# CoOp + R-AMT on the demo digits: the R-AMT demo recipe with a CoOp head;
# context and masks train together (configs/rmt/README.md).
_base_ = ['./rmt_tiny_digits.py']
model = dict(head=dict(type='RMTCoOpHead', num_context=4))
