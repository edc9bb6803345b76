"""rmt_mm: Regularized Mask Tuning (R-AMT) of CLIP for mmpretrain."""
import warnings

# mmcv-lite ships no compiled ops; mmpretrain imports mmcv's transformer
# bricks, which warn on every start that MultiScaleDeformableAttention (a
# detection op rmt_mm never uses) is missing.
warnings.filterwarnings(
    'ignore', message='Fail to import ``MultiScaleDeformableAttention``')
# Importing the layers registers their components.
from . import datasets, engine, models, patches  # noqa: F401,E402
from .apis.model_hub import register_models  # noqa: E402
from .version import __version__  # noqa: E402

# Explicitly, once: every Runner built from rmt_mm's configs reaches rmt_mm
# through custom_imports, and needs safe checkpoint loading and atomic
# writes (rmt_mm/patches.py says why).
patches.apply()
# mmpretrain.list_models / get_model know the configs of model-index.yml.
register_models()

__all__ = ['__version__']
