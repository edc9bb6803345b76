"""Shims for the pinned versions (applied once, on ``import rmt_mm``).

1. mmengine 0.10.7 loads local checkpoints with ``torch.load`` defaults,
   which since torch 2.6 refuse its own checkpoints (``HistoryBuffer``,
   numpy), and downloaded ones (``http://``, ``open-mmlab://``,
   ``torchvision://``) with ``weights_only=False``, which runs code from
   the file. Both are read by
   :func:`~rmt_mm.utils.resume_checkpoint.load_resume_checkpoint` instead:
   PyTorch's safe loader, a checksum check and a readable refusal.
2. mmengine writes local files in place, so a kill during a checkpoint
   write leaves a truncated file that ``--resume`` picks up. Local writes
   go to a temporary file that is atomically renamed instead; so does
   ``CheckpointHook``'s ``last_checkpoint``.
"""
import io
import os
import os.path as osp
import tempfile
from urllib.parse import urlparse

import torch
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import checkpoint_hook
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

#: Prefix of the temporary files of atomic writes.
TEMPORARY_PREFIX = '.tmp_'


@CheckpointLoader.register_scheme(prefixes='', force=True)
def _load_local_checkpoint(filename: str, map_location=None):
    from .resume_checkpoint import load_resume_checkpoint
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
    from .resume_checkpoint import load_resume_checkpoint
    from .safe_load import FileRefusedError
    try:
        return load_resume_checkpoint(cached, map_location)
    except FileRefusedError as error:
        raise FileRefusedError(f'{error} (downloaded from {url})') from None


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(data: bytes, filepath: str) -> None:
    """Writes ``data`` so that ``filepath`` is either old or complete."""
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=TEMPORARY_PREFIX)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates files as 0600
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException as error:
        if osp.exists(tmp):
            os.remove(tmp)
        if isinstance(error, OSError) and error.filename is None:
            # A failed write (a full disk) names no file: name the target.
            raise OSError(error.errno, error.strerror, filepath) from error
        raise


def _atomic_put(self, obj: bytes, filepath) -> None:
    atomic_write_bytes(obj, str(filepath))


class _AtomicTextFile(io.StringIO):
    """A text file opened for writing that appears on close, complete."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def close(self) -> None:
        if not self.closed:
            atomic_write_bytes(self.getvalue().encode(), self.path)
        super().close()


def _open_for_checkpoint_hook(file, mode='r', *args, **kwargs):
    # CheckpointHook opens only `last_checkpoint`, and only to write it.
    if mode == 'w':
        return _AtomicTextFile(str(file))
    return open(file, mode, *args, **kwargs)


LocalBackend.put = _atomic_put
checkpoint_hook.open = _open_for_checkpoint_hook
mmengine_checkpoint.load_url = _load_url_safely
