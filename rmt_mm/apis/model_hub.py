"""rmt_mm's configs in mmpretrain's model hub.

``import rmt_mm`` calls :func:`register_models` once, so that
``mmpretrain.list_models('*rmt*')`` lists the configs of
``model-index.yml`` and ``mmpretrain.get_model(NAME, pretrained=MASKS)``
builds one and loads a mask file into it (``pretrained=False``: CLIP's
weights without masks). The index and its configs live in the project, not
in the package: an install without them (a wheel) registers nothing.
"""
from pathlib import Path

from mmpretrain.apis.model import ModelHub

#: The project folder: ``model-index.yml`` and the ``configs/`` its
#: metafiles name, relative to it.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL_INDEX = PROJECT_ROOT / 'model-index.yml'

_registered = False


def register_models() -> bool:
    """Adds ``model-index.yml``'s models to mmpretrain's ``ModelHub``
    (idempotent: ``ModelHub`` refuses a name registered twice).

    Returns:
        Whether the project's model index is registered.
    """
    global _registered
    if not _registered and MODEL_INDEX.is_file():
        ModelHub.register_model_index(MODEL_INDEX, config_prefix=PROJECT_ROOT)
        _registered = True
    return _registered
