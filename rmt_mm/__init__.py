"""rmt_mm: Regularized Mask Tuning (R-AMT) of CLIP for mmpretrain."""
import warnings

# mmcv-lite ships no compiled ops; mmpretrain imports mmcv's transformer
# bricks, which warn on every start that MultiScaleDeformableAttention (a
# detection op rmt_mm never uses) is missing.
warnings.filterwarnings(
    'ignore', message='Fail to import ``MultiScaleDeformableAttention``')
from .utils import compat  # noqa: F401  (applies version shims once)
from . import datasets, engine, models  # noqa: F401  (registers components)
from .version import __version__

__all__ = ['__version__']
