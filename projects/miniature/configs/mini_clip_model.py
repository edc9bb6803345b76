# The miniature CLIP (projects/miniature/README.md): pre-trained on rendered
# scenes by `python projects/miniature/tools/miniature.py pretrain`, shipped
# as projects/miniature/mini_clip.pt, found next to this folder whatever the
# working directory. Masks on the paper's set (patch embedding and attention
# projections of every image-encoder block).
model = dict(
    type='RMTClassifier',
    backbone=dict(
        type='RMTMaskedCLIP',
        arch=dict(
            embed_dim=64,
            vision_cfg=dict(image_size=32, layers=3, width=64, patch_size=8,
                            head_width=32),
            text_cfg=dict(context_length=16, vocab_size=49408, width=64,
                          heads=2, layers=2)),
        pretrained='{{ fileDirname }}/../mini_clip.pt',
        mask_targets='paper'),
    data_preprocessor=dict(
        mean=[122.770938, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305],
        to_rgb=True),
)
