"""The mask file: binarised masks at one bit per entry plus metadata.

Layout (a ``torch.save`` dict of tensors and plain data only)::

    {'format': 'rmt_mm.masks', 'version': 2,
     'meta': {'arch', 'pretrained', 'weights_fingerprint', 'mask_names',
              'threshold', ...},
     'masks': {weight name: {'shape': [...], 'bits': uint8 tensor}},
     'checksum': content_checksum({'meta': ..., 'masks': ...})}

Version 1 files (no checksum) still load, with a warning.
"""
import io
import logging
from typing import Dict, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from torch import Tensor

from .atomic import atomic_write_bytes
from .safe_load import FileRefusedError, content_checksum, safe_load

FORMAT = 'rmt_mm.masks'
VERSION = 2
#: Versions this rmt_mm reads; 1 predates the checksum.
READABLE_VERSIONS = (1, 2)


def pack_mask(mask: Tensor) -> Tensor:
    """Packs a boolean tensor into ``uint8`` bits (8 entries per byte)."""
    return torch.from_numpy(
        np.packbits(mask.detach().cpu().numpy().reshape(-1)))


def unpack_mask(bits: Tensor, shape) -> Tensor:
    """Inverse of :func:`pack_mask`."""
    count = int(np.prod(shape))
    flat = np.unpackbits(bits.numpy(), count=count).astype(bool)
    return torch.from_numpy(flat).reshape(tuple(shape))


def save_mask_file(path: str, masks: Dict[str, Tensor], meta: dict) -> int:
    """Writes masks and metadata atomically.

    Args:
        path: Output file.
        masks: ``{weight name: boolean keep-mask}``.
        meta: JSON-like metadata (architecture, pretrained source, ...).

    Returns:
        The file size in bytes.
    """
    content = dict(
        meta=dict(meta, mask_names=list(masks)),
        masks={
            name: dict(shape=list(mask.shape), bits=pack_mask(mask))
            for name, mask in masks.items()
        })
    payload = dict(format=FORMAT, version=VERSION, **content,
                   checksum=content_checksum(content))
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(buffer.getvalue(), path)
    return buffer.tell()


#: State-dict prefixes of the classifier parts that other methods train
#: (CoOp context, Tip-Adapter cache).
TRAINED_PARTS = ('head.', 'adapter.')


def checkpoint_kind(path: str) -> str:
    """Tells a mask file (``'masks'``) from a resume checkpoint
    (``'resume'``) that holds mask scores, a class head or an adapter.

    Raises:
        FileRefusedError: If ``path`` is unsafe, unreadable or neither.
    """
    payload = safe_load(path, mmap=True)
    if isinstance(payload, dict) and payload.get('format') == FORMAT:
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
    payload = safe_load(path)
    if not isinstance(payload, dict) or payload.get('format') != FORMAT:
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
    return masks, payload['meta']
