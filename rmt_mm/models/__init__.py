from .adapters import RMTTipAdapter, cache_affinity
from .classifier import RMTClassifier
from .heads import RMTCoOpHead, RMTPromptHead, class_text_features, prompt_name
from .masked_clip import MaskedCLIP
from .masks import MaskScores, masked_weight
from .open_clip_loader import build_open_clip, build_tokenizer
from .regularizers import RMTZeroShotDistillation, distillation_loss

__all__ = [
    'MaskedCLIP', 'MaskScores', 'RMTClassifier', 'RMTCoOpHead',
    'RMTPromptHead', 'RMTTipAdapter', 'RMTZeroShotDistillation',
    'build_open_clip', 'build_tokenizer', 'cache_affinity',
    'class_text_features', 'distillation_loss', 'masked_weight',
    'prompt_name'
]
