"""Resume checkpoints of tensors and plain data, with a checksum.

mmengine pickles the message hub's ``HistoryBuffer`` objects and numpy
scalars into its checkpoints, which PyTorch's safe loader refuses.
:func:`to_plain_checkpoint` (called by ``RMTCheckpointHook`` before a
checkpoint is written) turns them into plain data and adds a checksum of the
whole content; :func:`load_resume_checkpoint` (mmengine's loader for local
files, see :mod:`rmt_mm.fileio.atomic`) verifies it and rebuilds the
buffers.

Checkpoints written before this format load through a small allow-list of
the types they need (``HistoryBuffer``, numpy arrays and scalars, and
``getattr`` limited to a ``HistoryBuffer``'s statistics methods), with a
warning that they carry no checksum.
"""
import logging
from collections import OrderedDict
from typing import Any

import numpy as np
from mmengine.logging import HistoryBuffer, print_log

from .mask_file import FORMAT as MASK_FORMAT
from .safe_load import FileRefusedError, content_checksum, safe_load

#: ``{'version': 1, 'checksum': hex}`` in every checkpoint rmt_mm writes.
INTEGRITY_KEY = 'rmt_mm_integrity'
#: Marks the plain form of a ``HistoryBuffer`` in ``message_hub``.
HISTORY_TAG = 'rmt_mm.history_buffer'
#: The statistics every HistoryBuffer registers.
_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_method(owner: Any, name: str):
    """``getattr`` as old checkpoints use it: only the statistics methods
    (``mean``, ``min``, ...) of ``HistoryBuffer``."""
    if not (owner is HistoryBuffer or isinstance(owner, HistoryBuffer)) or (
            name not in _STATISTICS and
            name not in HistoryBuffer._statistics_methods):
        raise FileRefusedError(
            f'an old-format checkpoint asks for getattr({owner!r}, '
            f'{name!r}); only HistoryBuffer statistics may be named.')
    return getattr(owner, name)


def _legacy_globals() -> list:
    core = np._core.multiarray
    dtypes = [type(np.dtype(t)) for t in (np.float64, np.float32, np.int64,
                                          np.int32, np.bool_)]
    return [
        HistoryBuffer, np.ndarray, np.dtype, *dtypes,
        (_history_method, 'builtins.getattr'),
        (core._reconstruct, 'numpy.core.multiarray._reconstruct'),
        (core._reconstruct, 'numpy._core.multiarray._reconstruct'),
        (core.scalar, 'numpy.core.multiarray.scalar'),
        (core.scalar, 'numpy._core.multiarray.scalar'),
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, HistoryBuffer):
        return {
            HISTORY_TAG: True,
            'log_history': value._log_history.tolist(),
            'count_history': value._count_history.tolist(),
            'max_length': value.max_length,
        }
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, dict):
        kind = OrderedDict if isinstance(value, OrderedDict) else dict
        return kind((key, _plain(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(item) for item in value)
    return value


def _rebuilt(value: Any) -> Any:
    if isinstance(value, dict) and value.get(HISTORY_TAG) is True:
        return HistoryBuffer(value['log_history'], value['count_history'],
                             value['max_length'])
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _rebuilt(item)
    return value


def to_plain_checkpoint(checkpoint: dict) -> None:
    """Makes a checkpoint dict safe-loadable and adds its checksum, in
    place.

    Raises:
        TypeError: If an entry is neither a tensor, plain data, numpy data
            nor a ``HistoryBuffer``; it names the entry.
    """
    checkpoint.pop(INTEGRITY_KEY, None)
    for key, value in list(checkpoint.items()):
        checkpoint[key] = _plain(value)
    checkpoint[INTEGRITY_KEY] = dict(
        version=1, checksum=content_checksum(checkpoint))


def mask_file_refusal(path: str) -> FileRefusedError:
    """The refusal of a mask file given where a run is resumed."""
    return FileRefusedError(
        f'{path!r} is a mask file (the evaluation output of a run, 1 bit '
        'per mask entry), not a resume checkpoint: resume from the '
        'epoch_N.pth checkpoints in the work dir (--resume without a path '
        'picks the newest), or evaluate the masks with tools/test.py CONFIG '
        f'{path}.')


def load_resume_checkpoint(path: str, map_location: Any = 'cpu') -> dict:
    """Loads a checkpoint for ``load_from`` or ``--resume`` and checks that
    it is intact.

    Raises:
        FileRefusedError: If the file is unsafe, unreadable, a mask file or
            changed since it was written.
    """
    checkpoint = safe_load(path, map_location, _legacy_globals())
    if isinstance(checkpoint, dict) and checkpoint.get(
            'format') == MASK_FORMAT:
        raise mask_file_refusal(path)
    if not isinstance(checkpoint, dict):
        raise FileRefusedError(
            f'{path!r} holds a {type(checkpoint).__name__}, not a '
            'checkpoint dict: give an epoch_N.pth written by tools/train.py.')
    integrity = checkpoint.pop(INTEGRITY_KEY, None)
    if integrity is None:
        print_log(
            f'{path!r} carries no checksum (written before rmt_mm checked '
            'checkpoints, or by another tool): it cannot prove that it is '
            'intact.', logger='current', level=logging.WARNING)
    elif integrity.get('checksum') != content_checksum(checkpoint):
        raise FileRefusedError(
            f'{path!r} is corrupted: its checksum does not match its '
            'content, which changed after it was written. Resume from '
            'another checkpoint (--resume without a path picks the newest '
            'intact one) or copy it again.')
    return _rebuilt(checkpoint)
