# The embedded demo (`make demo`, tools/demo.py): R-AMT on scikit-learn's
# handwritten digits with a tiny CLIP whose weights are random.
# tools/demo.py writes the images and the random weights under demo_output/.
# A random CLIP has no knowledge: zero-shot is chance and every gain comes
# from the masks. Settings chosen to show learning in about a minute on
# 2 CPU cores (README.md, "What the demo does").
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/rmt_adam_30e.py']

model = dict(
    type='RMTClassifier',
    backbone=dict(
        type='RMTMaskedCLIP',
        arch=dict(
            embed_dim=64,
            vision_cfg=dict(image_size=32, layers=4, width=128,
                            patch_size=8, head_width=32),
            text_cfg=dict(context_length=16, vocab_size=49408, width=64,
                          heads=2, layers=2)),
        pretrained='demo_output/tiny_clip_random.pt',
        # Attention only: with random weights, masking conv1 hurts.
        mask_targets=['visual.transformer.resblocks.*.attn.in_proj_weight',
                      'visual.transformer.resblocks.*.attn.out_proj.weight']),
    data_preprocessor=dict(
        num_classes=10,
        mean=[122.770938, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305],
        to_rgb=True),
)
global_batch_size = 32
optim_wrapper = dict(lam=0.3, optimizer=dict(lr=3e-4))
# Validation on the held-out test images every 5 epochs shows the curve; it
# selects nothing (the last epoch is evaluated, as in CoOp).
train_cfg = dict(max_epochs=20, val_interval=5)
default_hooks = dict(logger=dict(interval=16))

# The demo's images are 32x32 already; other sizes are brought to it.
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=32, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=32),
    dict(type='PackInputs')
]
dataset = dict(
    type='RMTFewShotImageFolder',
    data_root='demo_output/data',
    templates=('a photo of the digit {}.', ),
    num_shots=100,
    seed=1,
    pipeline=pipeline)
loader = dict(num_workers=0, collate_fn=dict(type='default_collate'))
train_dataloader = dict(
    batch_size=32,
    sampler=dict(type='RMTGlobalBatchSampler', shuffle=True),
    dataset=dict(dataset, split='train'),
    **loader)
val_dataloader = dict(
    batch_size=200,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, split='test'),
    **loader)
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
