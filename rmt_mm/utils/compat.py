"""Shims for the pinned versions (applied once, on ``import rmt_mm``).

1. mmengine 0.10.7 loads checkpoints with ``torch.load`` defaults; since
   torch 2.6 that means ``weights_only=True`` and every ``load_from`` or
   ``--resume`` of an mmengine checkpoint (which pickles ``HistoryBuffer``
   and numpy objects) fails. Checkpoints are loaded with
   ``weights_only=False`` instead: they are files this framework wrote.
2. mmengine writes local files in place, so a kill during a checkpoint
   write leaves a truncated file that ``--resume`` picks up. Local writes
   go to a temporary file that is atomically renamed instead.
"""
import os
import os.path as osp
import tempfile

import torch
from mmengine.fileio.backends import LocalBackend
from mmengine.runner.checkpoint import CheckpointLoader


@CheckpointLoader.register_scheme(prefixes='', force=True)
def _load_local_checkpoint(filename: str, map_location=None):
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(data: bytes, filepath: str) -> None:
    """Writes ``data`` so that ``filepath`` is either old or complete."""
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp_')
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates files as 0600
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def _atomic_put(self, obj: bytes, filepath) -> None:
    atomic_write_bytes(obj, str(filepath))


LocalBackend.put = _atomic_put
