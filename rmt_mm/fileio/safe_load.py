"""Reading ``.pth`` files without running code from them, and checksums.

Every file rmt_mm reads (mask files, resume checkpoints, ``load_from``,
``pretrained=`` state dicts) goes through :func:`safe_load`: PyTorch's
``weights_only`` unpickler, which builds tensors and plain data (dict, list,
tuple, str, numbers) and refuses anything else. A file that would import a
Python object, or that is empty, truncated or not a PyTorch file at all, is
refused with a :class:`FileRefusedError` that names the file and says what to
do. :func:`content_checksum` hashes such plain data, so that the files
rmt_mm writes can prove on load that they are intact.
"""
import hashlib
import os.path as osp
import re
from typing import Any, Sequence

import torch
from torch import Tensor

# The unpickler names a refused global in one of a few phrasings, all of
# them with "GLOBAL <module>.<name>" or "GLOBAL <name>".
_REFUSED_GLOBAL = re.compile(r'GLOBAL (\S+?)[ ,.]* (?:was|whose|is)')
_SCALARS = (str, int, float, bool, type(None))
_ZIP_MAGIC = b'PK\x03\x04'
_ZIP_END = b'PK\x05\x06'


class FileRefusedError(ValueError):
    """A file that rmt_mm will not use: unsafe, corrupted or of the wrong
    kind. The message is one line naming the file and the remedy."""


def _why_unreadable(path: str, error: BaseException) -> str:
    with open(path, 'rb') as f:
        start = f.read(4)
        # A zip file ends with its directory, whose record starts with
        # PK\x05\x06 within the last 64 KiB (the longest zip comment).
        f.seek(max(0, osp.getsize(path) - 65558))
        complete = _ZIP_END in f.read()
    if start != _ZIP_MAGIC and not start.startswith(b'\x80'):
        return 'it does not start like a PyTorch file'
    if isinstance(error, EOFError) or (start == _ZIP_MAGIC
                                       and not complete):
        return 'it ends early'
    text = str(error).strip().splitlines()
    return f'{type(error).__name__}: {text[0][:120] if text else ""}'


def safe_load(path: str,
              map_location: Any = 'cpu',
              allowed_globals: Sequence[Any] = (),
              mmap: bool = False) -> Any:
    """Loads a ``torch.save`` file with PyTorch's safe (weights-only)
    unpickler.

    Args:
        path: The file.
        map_location: As for :func:`torch.load`.
        allowed_globals: Extra classes or functions the file may name, for
            :func:`torch.serialization.safe_globals` (only for formats that
            need them; rmt_mm's own files need none).
        mmap: Map tensor storages instead of reading them (zip files only).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        FileRefusedError: If the file is empty, not a PyTorch file,
            truncated or corrupted, or would import a Python object.
    """
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path!r} does not exist.')
    if osp.getsize(path) == 0:
        raise FileRefusedError(
            f'{path!r} is empty (0 bytes), e.g. from an interrupted copy: '
            'copy or download it again.')
    mmap = mmap and _is_zip(path)
    try:
        with torch.serialization.safe_globals(list(allowed_globals)):
            return torch.load(path, map_location=map_location,
                              weights_only=True, mmap=mmap)
    except Exception as error:  # noqa: BLE001 (every reason is reported)
        refused = _REFUSED_GLOBAL.search(str(error))
        if refused is not None:
            raise FileRefusedError(
                f'Refused to load {path!r}: it asks to import the Python '
                f'object {refused.group(1)!r}, which could run code; rmt_mm '
                'reads only tensors and plain data. Do not use this file '
                'unless you made it yourself.') from None
        raise FileRefusedError(
            f'{path!r} cannot be read ({_why_unreadable(path, error)}): it '
            'is truncated, corrupted or not a PyTorch file. Copy it again or '
            'use another file.') from None


def _is_zip(path: str) -> bool:
    with open(path, 'rb') as f:
        return f.read(4) == _ZIP_MAGIC


def _update(digest, value: Any, where: str) -> None:
    if isinstance(value, Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f'T{tensor.dtype}{tuple(tensor.shape)}'.encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    elif isinstance(value, dict):
        digest.update(f'D{len(value)}'.encode())
        for key, item in value.items():
            digest.update(f'K{type(key).__name__}{key!r}'.encode())
            _update(digest, item, f'{where}/{key}')
    elif isinstance(value, (list, tuple)):
        digest.update(f'L{len(value)}'.encode())
        for index, item in enumerate(value):
            _update(digest, item, f'{where}/{index}')
    elif isinstance(value, _SCALARS):
        digest.update(f'S{type(value).__name__}{value!r}'.encode())
    else:
        raise TypeError(
            f'{where or "/"} holds a {type(value).__module__}.'
            f'{type(value).__qualname__}; files rmt_mm writes hold only '
            'tensors and plain data (dict, list, tuple, str, numbers).')


def content_checksum(value: Any) -> str:
    """SHA-256 of nested tensors and plain data (values, dtypes, shapes,
    keys and their order), as hex.

    Raises:
        TypeError: Naming the first entry that is not a tensor or plain
            data.
    """
    digest = hashlib.sha256()
    _update(digest, value, '')
    return digest.hexdigest()


__all__ = ['FileRefusedError', 'content_checksum', 'safe_load']
