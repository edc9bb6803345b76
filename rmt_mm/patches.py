"""Patches of mmengine 0.10.7 for torch >= 2.6 and for safe, atomic files.

:func:`apply` is called once by ``import rmt_mm``, explicitly: configs load
rmt_mm through ``custom_imports``, the only hook into every Runner that is
built from them (the tools' and users' own), and without the first patch
``load_from``/``--resume`` fail on torch >= 2.6 or, for downloads, run code
from the file.

1. mmengine 0.10.7 loads local checkpoints with ``torch.load`` defaults,
   which since torch 2.6 refuse its own checkpoints (``HistoryBuffer``,
   numpy), and downloaded ones (``http://``, ``open-mmlab://``,
   ``torchvision://``) with ``weights_only=False``, which runs code from
   the file. Both are read by
   :func:`~rmt_mm.fileio.resume_checkpoint.load_resume_checkpoint` instead:
   PyTorch's safe loader, a checksum check and a readable refusal. A mask
   file given where a checkpoint is expected (``load_from``,
   ``mmpretrain.get_model(..., pretrained=MASK_FILE)``) is handed to the
   model's ``MaskedCLIP``, which checks and loads it.
2. mmengine writes local files in place, so a kill during a checkpoint
   write leaves a truncated file that ``--resume`` picks up. Local writes
   go to a temporary file that is atomically renamed instead; so does
   ``CheckpointHook``'s ``last_checkpoint``.
"""
import os
import os.path as osp
from urllib.parse import urlparse

import torch
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import checkpoint_hook
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from .fileio.atomic import AtomicTextFile, atomic_write_bytes
from .fileio.mask_file import is_mask_file, mask_file_checkpoint
from .fileio.resume_checkpoint import load_resume_checkpoint
from .fileio.safe_load import FileRefusedError


def _load_local_checkpoint(filename: str, map_location=None):
    try:
        masks = is_mask_file(filename)
    except FileRefusedError:
        masks = False  # load_resume_checkpoint says why, or reads a legacy
    if masks:
        return mask_file_checkpoint(filename)
    return load_resume_checkpoint(filename, map_location)


def _load_url_safely(url: str, model_dir=None, map_location=None,
                     progress: bool = True):
    """mmengine's ``load_url`` (download once into the torch hub cache),
    reading the file safely."""
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    if not osp.isfile(cached):
        torch.hub.download_url_to_file(url, cached, progress=progress)
    try:
        return load_resume_checkpoint(cached, map_location)
    except FileRefusedError as error:
        raise FileRefusedError(f'{error} (downloaded from {url})') from None


def _atomic_put(self, obj: bytes, filepath) -> None:
    atomic_write_bytes(obj, str(filepath))


def _open_for_checkpoint_hook(file, mode='r', *args, **kwargs):
    # CheckpointHook opens only `last_checkpoint`, and only to write it.
    if mode == 'w':
        return AtomicTextFile(str(file))
    return open(file, mode, *args, **kwargs)


def apply() -> None:
    """Applies the patches (idempotent)."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=_load_local_checkpoint, force=True)
    LocalBackend.put = _atomic_put
    checkpoint_hook.open = _open_for_checkpoint_hook
    mmengine_checkpoint.load_url = _load_url_safely
