"""Adapters that refine a classifier's logits from its image features."""
from .tip_adapter import RMTTipAdapter, cache_affinity

__all__ = ['RMTTipAdapter', 'cache_affinity']
