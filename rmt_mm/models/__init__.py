from .classifier import RMTClassifier, distillation_loss
from .masked_clip import MaskedCLIP
from .masks import MaskScores, masked_weight
from .open_clip_loader import build_open_clip, build_tokenizer
from .text_head import class_text_features

__all__ = [
    'MaskedCLIP', 'MaskScores', 'RMTClassifier', 'build_open_clip',
    'build_tokenizer', 'class_text_features', 'distillation_loss',
    'masked_weight'
]
