# Plain CLIP ViT-B/16 (OpenAI weights): no masks, hand-written prompts, no
# regulariser. Zero-shot CLIP as it is; CoOp and Tip-Adapter add their part.
model = dict(
    type='RMTClassifier',
    backbone=dict(
        type='RMTMaskedCLIP',
        arch='ViT-B-16',
        pretrained='openai',
        mask_targets=None),
    head=dict(type='RMTPromptHead'),
    regularizer=None,
)
