"""rmt_mm: Regularized Mask Tuning (R-AMT) of CLIP for mmpretrain."""
from .utils import compat  # noqa: F401  (applies version shims once)
from . import datasets, engine, models  # noqa: F401  (registers components)
from .version import __version__

__all__ = ['__version__']
