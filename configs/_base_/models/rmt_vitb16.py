# CLIP ViT-B/16 (OpenAI weights) with masks on conv1 and the attention
# projections of every image-encoder block (the paper's set).
model = dict(
    type='RMTClassifier',
    backbone=dict(
        type='RMTMaskedCLIP',
        arch='ViT-B-16',
        pretrained='openai',
        mask_targets='paper',
        score_init=1e-2,
        threshold=5e-3),
    head=dict(type='RMTPromptHead'),
    regularizer=dict(type='RMTZeroShotDistillation', temperature=1.0),
    sparsity_weight=1e-4,
)
