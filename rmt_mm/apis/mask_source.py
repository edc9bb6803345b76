"""Reading a task's mask file for an already loaded CLIP (the one place
that decides whether a mask file fits it)."""
import os.path as osp
from typing import Dict, Optional, Tuple

from mmengine.config import Config
from torch import Tensor

from ..datasets.templates import PHOTO
from ..fileio import mask_file
from ..fileio.mask_file import load_mask_file, read_mask_file
from ..fileio.safe_load import FileRefusedError
from ..models import MaskedCLIP


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


def recorded_classes(path: str) -> Optional[Tuple[Tuple[str, ...],
                                                  Tuple[str, ...]]]:
    """The class names and templates a mask file was trained on (the
    default templates when it records none), or ``None`` when it records no
    classes."""
    classes = mask_file.recorded_classes(path)
    return classes and (classes[0], classes[1] or PHOTO)


def mask_file_config(path: str) -> Config:
    """The inference config a mask file records (the classifier with its
    class names, templates and pretrained source, and the test pipeline),
    so that the mask file alone classifies images.

    Raises:
        FileRefusedError: If the file is not an intact mask file, or was
            written before mask files recorded their classifier.
    """
    _, meta, _ = read_mask_file(path)
    record = meta.get('inference')
    if not record:
        raise FileRefusedError(
            f'Mask file {path!r} records no classifier (it predates mask '
            'files that do): give the config it was trained with as well.')
    return Config(dict(
        model=record['model'], default_scope='mmpretrain',
        test_dataloader=dict(dataset=dict(pipeline=record['test_pipeline']))))
