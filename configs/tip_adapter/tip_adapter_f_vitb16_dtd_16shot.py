_base_ = [
    '../_base_/models/tip_adapter_vitb16.py',
    '../_base_/datasets/dtd.py',
    '../_base_/schedules/tip_adapter_f_adamw_20e.py',
    '../_base_/default_runtime.py',
]
# Tip-Adapter-F (cache keys fine-tuned), CLIP ViT-B/16, 16 shots, DTD.
model = dict(adapter=dict(fine_tune_keys=True))
