# Tip-Adapter + R-AMT on the demo digits: cache built at step 0, masks
# trained with it in the loop, alpha/beta searched on val/ at test time.
_base_ = ['./rmt_tiny_digits.py']
model = dict(adapter=dict(type='RMTTipAdapter', alpha=1.0, beta=5.5))
val_dataloader = dict(dataset=dict(split='val'))
