"""The mask file: binarised masks at one bit per entry plus metadata.

Layout (a ``torch.save`` dict of tensors and plain data only)::

    {'format': 'rmt_mm.masks', 'version': 3,
     'meta': {'arch', 'pretrained', 'weights_fingerprint', 'mask_names',
              'threshold', 'inference', ...},
     'masks': {weight name: {'shape': [...], 'bits': uint8 tensor}},
     'state': {classifier state-dict key: tensor},
     'checksum': content_checksum({'meta': ..., 'masks': ..., 'state': ...})}

``meta['inference']`` (version 3) holds what inference needs without the
training config or data: the classifier's config with its class names and
templates, and the test pipeline; ``state`` the classifier parts that other
methods train (a CoOp context, a Tip-Adapter cache). Version 2 files (no
``state``) load as before; version 1 files (no checksum) with a warning.
"""
import io
import logging
from typing import Dict, Optional, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from torch import Tensor

from .atomic import atomic_write_bytes
from .safe_load import FileRefusedError, content_checksum, safe_load

FORMAT = 'rmt_mm.masks'
VERSION = 3
#: Versions this rmt_mm reads; 1 predates the checksum, 2 the state.
READABLE_VERSIONS = (1, 2, 3)
#: State-dict key that hands a mask file to ``MaskedCLIP`` through any
#: mmengine checkpoint loading (``load_from``, ``mmpretrain.get_model``).
MASK_FILE_KEY = 'backbone.mask_file'


def pack_mask(mask: Tensor) -> Tensor:
    """Packs a boolean tensor into ``uint8`` bits (8 entries per byte)."""
    return torch.from_numpy(
        np.packbits(mask.detach().cpu().numpy().reshape(-1)))


def unpack_mask(bits: Tensor, shape) -> Tensor:
    """Inverse of :func:`pack_mask`."""
    count = int(np.prod(shape))
    flat = np.unpackbits(bits.numpy(), count=count).astype(bool)
    return torch.from_numpy(flat).reshape(tuple(shape))


def save_mask_file(path: str,
                   masks: Dict[str, Tensor],
                   meta: dict,
                   state: Optional[Dict[str, Tensor]] = None) -> int:
    """Writes masks and metadata atomically.

    Args:
        path: Output file.
        masks: ``{weight name: boolean keep-mask}``.
        meta: JSON-like metadata (architecture, pretrained source, ...).
        state: Tensors of trained classifier parts, by state-dict key.

    Returns:
        The file size in bytes.
    """
    content = dict(
        meta=dict(meta, mask_names=list(masks)),
        masks={
            name: dict(shape=list(mask.shape), bits=pack_mask(mask))
            for name, mask in masks.items()
        },
        state={key: value.detach().cpu() for key, value in
               (state or {}).items()})
    payload = dict(format=FORMAT, version=VERSION, **content,
                   checksum=content_checksum(content))
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(buffer.getvalue(), path)
    return buffer.tell()


#: State-dict prefixes of the classifier parts that other methods train
#: (CoOp context, Tip-Adapter cache).
TRAINED_PARTS = ('head.', 'adapter.')


def is_mask_file(path: str) -> bool:
    """Whether ``path`` holds an rmt_mm mask file (read memory-mapped).

    Raises:
        FileRefusedError: If ``path`` is unsafe or unreadable.
    """
    return _is_mask_payload(safe_load(path, mmap=True))


def _is_mask_payload(payload) -> bool:
    return isinstance(payload, dict) and payload.get('format') == FORMAT


def checkpoint_kind(path: str) -> str:
    """Tells a mask file (``'masks'``) from a resume checkpoint
    (``'resume'``) that holds mask scores, a class head or an adapter.

    Raises:
        FileRefusedError: If ``path`` is unsafe, unreadable or neither.
    """
    payload = safe_load(path, mmap=True)
    if _is_mask_payload(payload):
        return 'masks'
    state = payload.get('state_dict', {}) if isinstance(payload, dict) else {}
    if any('masks.scores.' in key or key.startswith(TRAINED_PARTS)
           for key in state):
        return 'resume'
    raise FileRefusedError(
        f'{path!r} is neither an rmt_mm mask file (masks_*.pth) nor an '
        'rmt_mm training checkpoint (epoch_*.pth) with mask scores, a '
        'class head or a cache adapter.')


def load_mask_file(path: str) -> Tuple[Dict[str, Tensor], dict]:
    """Reads a mask file and checks that it is intact.

    Returns:
        ``({weight name: boolean keep-mask}, meta)``.

    Raises:
        FileRefusedError: If the file is unsafe, unreadable, not a mask file
            of a known version or changed since it was written.
    """
    masks, meta, _ = read_mask_file(path)
    return masks, meta


def mask_file_checkpoint(path: str) -> dict:
    """A mask file as an mmengine checkpoint of an ``RMTClassifier``: the
    file itself (loaded and checked by ``MaskedCLIP``) and the trained
    parts' tensors, so that ``load_from`` and ``mmpretrain.get_model(...,
    pretrained=MASK_FILE)`` take mask files."""
    _, _, state = read_mask_file(path)
    return dict(state_dict={MASK_FILE_KEY: path, **state}, meta={})


def recorded_classes(path: str
                     ) -> Optional[Tuple[Tuple[str, ...], Tuple[str, ...]]]:
    """``(class names, templates)`` a mask file was trained on (templates
    empty when it records none), or ``None`` when it records no classes
    (written before mask files recorded their classifier)."""
    _, meta, _ = read_mask_file(path)
    model = (meta.get('inference') or {}).get('model') or {}
    if not model.get('classnames'):
        return None
    return tuple(model['classnames']), tuple(model.get('templates') or ())


def read_mask_file(path: str
                   ) -> Tuple[Dict[str, Tensor], dict, Dict[str, Tensor]]:
    """Reads a mask file and checks that it is intact.

    Returns:
        ``({weight name: boolean keep-mask}, meta, {state key: tensor})``.

    Raises:
        FileRefusedError: If the file is unsafe, unreadable, not a mask file
            of a known version or changed since it was written.
    """
    payload = safe_load(path)
    if not _is_mask_payload(payload):
        raise FileRefusedError(
            f'{path!r} is not an rmt_mm mask file (masks_*.pth written by '
            'RMTMaskFileHook or tools/train.py).')
    version = payload.get('version')
    if version not in READABLE_VERSIONS:
        raise FileRefusedError(
            f'{path!r} has mask file version {version}; this rmt_mm reads '
            f'versions {READABLE_VERSIONS}.')
    try:
        content = dict(meta=payload['meta'], masks=payload['masks'])
        if version >= 3:
            content['state'] = payload['state']
        masks = {
            name: unpack_mask(entry['bits'], entry['shape'])
            for name, entry in payload['masks'].items()
        }
        intact = version == 1 or payload['checksum'] == content_checksum(
            content)
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise FileRefusedError(
            f'{path!r} is a damaged mask file ({type(error).__name__}: '
            f'{error}). Copy it again from where it came from.') from None
    if not intact:
        raise FileRefusedError(
            f'{path!r} is corrupted: its checksum does not match its bits '
            'and metadata, which changed after it was written. Copy it '
            'again from where it came from, or use another mask file of '
            'the run (masks_epoch_N.pth).')
    if version == 1:
        print_log(
            f'{path!r} is a mask file from before checksums (version 1): '
            'it cannot prove that it is intact. Mask files written by this '
            'rmt_mm carry one.', logger='current',
            level=logging.WARNING)
    return masks, payload['meta'], dict(payload.get('state') or {})
