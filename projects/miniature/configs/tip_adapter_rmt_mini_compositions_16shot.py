# Tip-Adapter + R-AMT on "compositions": cache built at step 0, masks trained
# with it in the loop, alpha and beta searched on val/ at test time.
_base_ = './rmt_mini_compositions_16shot.py'
model = dict(adapter=dict(type='RMTTipAdapter', alpha=1.0, beta=5.5))
