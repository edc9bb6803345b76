"""How a tool ends on a refusal: one line, ``Error: <what, which file, what
to do>``, and exit code 1.

Every tool runs its ``main`` inside :func:`refuse_bad_files`. Refused files
(:class:`~rmt_mm.fileio.safe_load.FileRefusedError`), bad config values,
missing files and work dirs that cannot be written end the program with
one line instead of a traceback. ``RMT_DEBUG=1`` in the environment lets
the exception through, traceback and all.
"""
import errno
import os
import sys
from contextlib import contextmanager
from typing import Iterator

from ..fileio.safe_load import FileRefusedError

#: Set to anything but ``0`` to see the traceback of a refusal.
DEBUG_VARIABLE = 'RMT_DEBUG'
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_NO_PERMISSION = (errno.EACCES, errno.EPERM)


def _one_line(error: BaseException) -> str:
    return ' '.join(str(error).split())


def _os_error_message(error: OSError) -> str:
    """What an operating-system error means for a run, or ``''``."""
    where = '' if error.filename is None else f' {error.filename!r}'
    if error.errno in _NO_SPACE:
        return (f'No space left on the device to write{where} '
                f'({error.strerror}). Free space there, or give the run a '
                '--work-dir on another disk.')
    if error.errno == errno.EROFS:
        return (f'Cannot write{where}: the file system is read-only. Give '
                'a --work-dir on a writable disk.')
    if error.errno in _NO_PERMISSION:
        return (f'Permission denied for{where}. Make inputs readable and '
                'outputs writable for this user, or give a --work-dir you '
                'can write to.')
    if error.errno == errno.ENOENT and error.filename is not None:
        return (f'{error.filename!r} does not exist. Check the path (on the '
                "command line, or the config's data_root / --data-root).")
    return ''


def refusal_message(error: BaseException) -> str:
    """The one line (after ``Error: ``) that ends a tool on ``error``."""
    known = _os_error_message(error) if isinstance(error, OSError) else ''
    if known:
        return known
    if isinstance(error, (FileRefusedError, ValueError, FileNotFoundError)):
        return _one_line(error)
    return (f'{type(error).__name__}: {_one_line(error)} (run with '
            f'{DEBUG_VARIABLE}=1 to see the traceback)')


@contextmanager
def refuse_bad_files() -> Iterator[None]:
    """For a tool's ``__main__``: an exception ends the program with its
    one-line :func:`refusal_message` (exit code 1) instead of a traceback,
    unless ``RMT_DEBUG`` is set."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 (each is reported)
        if os.environ.get(DEBUG_VARIABLE, '0') not in ('', '0'):
            raise
        sys.exit(f'Error: {refusal_message(error)}')


__all__ = ['DEBUG_VARIABLE', 'refusal_message', 'refuse_bad_files']
