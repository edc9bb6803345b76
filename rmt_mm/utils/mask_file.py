"""The mask file: binarised masks at one bit per entry plus metadata.

Layout (a ``torch.save`` dict, loadable with ``weights_only=True``)::

    {'format': 'rmt_mm.masks', 'version': 1,
     'meta': {'arch', 'pretrained', 'mask_names', 'threshold', ...},
     'masks': {weight name: {'shape': [...], 'bits': uint8 tensor}}}
"""
import io
from typing import Dict, Tuple

import numpy as np
import torch
from torch import Tensor

from .compat import atomic_write_bytes

FORMAT = 'rmt_mm.masks'
VERSION = 1


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
    payload = dict(
        format=FORMAT,
        version=VERSION,
        meta=dict(meta, mask_names=list(masks)),
        masks={
            name: dict(shape=list(mask.shape), bits=pack_mask(mask))
            for name, mask in masks.items()
        })
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(buffer.getvalue(), path)
    return buffer.tell()


def checkpoint_kind(path: str) -> str:
    """Tells a mask file (``'masks'``) from a resume checkpoint
    (``'resume'``) that holds mask scores.

    Raises:
        ValueError: If ``path`` is neither.
    """
    payload = torch.load(path, map_location='cpu', weights_only=False,
                         mmap=True)
    if isinstance(payload, dict) and payload.get('format') == FORMAT:
        return 'masks'
    state = payload.get('state_dict', {}) if isinstance(payload, dict) else {}
    if any('masks.scores.' in key for key in state):
        return 'resume'
    raise ValueError(
        f'{path!r} is neither an rmt_mm mask file (masks_*.pth) nor an '
        'rmt_mm training checkpoint (epoch_*.pth) with mask scores.')


def load_mask_file(path: str) -> Tuple[Dict[str, Tensor], dict]:
    """Reads a mask file.

    Returns:
        ``({weight name: boolean keep-mask}, meta)``.

    Raises:
        ValueError: If the file is not a mask file of a known version.
    """
    payload = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(payload, dict) or payload.get('format') != FORMAT:
        raise ValueError(
            f'{path!r} is not an rmt_mm mask file (masks_*.pth written by '
            'RMTMaskFileHook or tools/train.py).')
    if payload.get('version') != VERSION:
        raise ValueError(f'{path!r} has mask file version '
                         f'{payload.get("version")}; this rmt_mm reads '
                         f'version {VERSION}.')
    masks = {
        name: unpack_mask(entry['bits'], entry['shape'])
        for name, entry in payload['masks'].items()
    }
    return masks, payload['meta']
