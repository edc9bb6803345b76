_base_ = [
    '../_base_/models/coop_vitb16.py',
    '../_base_/datasets/fgvc_aircraft.py',
    '../_base_/schedules/coop_sgd_200e.py',
    '../_base_/default_runtime.py',
]
# CoOp, CLIP ViT-B/16, 16 shots, FGVCAircraft.
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.coop_train_pipeline}}))
