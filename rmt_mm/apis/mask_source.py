"""Reading a task's mask file for an already loaded CLIP (the one place
that decides whether a mask file fits it)."""
import os.path as osp
from typing import Dict, Optional

from torch import Tensor

from ..models import MaskedCLIP
from ..fileio.mask_file import load_mask_file


def same_source(recorded: Optional[str], loaded: Optional[str]) -> bool:
    """Whether two ``pretrained`` values name the same weights: equal, or
    two paths to the same file."""
    if recorded == loaded:
        return True
    return (isinstance(recorded, str) and isinstance(loaded, str)
            and osp.isfile(recorded) and osp.isfile(loaded)
            and osp.samefile(recorded, loaded))


def read_task_masks(path: str, clip: MaskedCLIP) -> Dict[str, Tensor]:
    """The boolean keep-masks of a mask file made for ``clip``.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If it is not a mask file, or was trained on another
            architecture or pretrained source, or masks weights ``clip``
            does not have.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Mask file {path!r} does not exist.')
    masks, meta = load_mask_file(path)
    clip.check_mask_file(masks, meta, path)
    # A recorded fingerprint has just been checked against the weights'
    # content (a copy of them elsewhere fits); older files name a source.
    if 'weights_fingerprint' not in meta and not same_source(
            meta.get('pretrained'), clip.pretrained):
        raise ValueError(
            f'Mask file {path!r} was trained on pretrained='
            f'{meta.get("pretrained")!r}, but the loaded CLIP is '
            f'pretrained={clip.pretrained!r}. Masks only fit the weights '
            'they were tuned on: serve it from a CLIP built with those '
            'weights.')
    return masks
