"""Class heads: given the CLIP, they return one unit feature per class."""
from .coop_head import RMTCoOpHead, token_embeddings_replaced
from .prompt_head import RMTPromptHead, class_text_features, prompt_name

__all__ = [
    'RMTCoOpHead', 'RMTPromptHead', 'class_text_features', 'prompt_name',
    'token_embeddings_replaced'
]
