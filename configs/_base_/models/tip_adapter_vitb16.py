# Tip-Adapter (method.md section 9): a cache of the few-shot training
# features (10 augmented passes averaged) beside zero-shot CLIP; alpha and
# beta are searched on the validation split (RMTCacheAdapterHook).
_base_ = ['./clip_vitb16.py']
model = dict(
    adapter=dict(
        type='RMTTipAdapter',
        alpha=1.0,
        beta=5.5,
        fine_tune_keys=False,
        alpha_range=(0.1, 3.0),
        beta_range=(0.1, 7.0),
        search_steps=(20, 200),
        augment_passes=10))
