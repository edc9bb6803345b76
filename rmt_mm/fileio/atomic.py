"""Writes that leave a file either as it was or complete, never torn."""
import io
import os
import os.path as osp
import tempfile

#: Prefix of the temporary files of atomic writes (a killed write leaves
#: one behind; ``rmt_mm.runs.work_dir`` cleans them up).
TEMPORARY_PREFIX = '.tmp_'

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


class AtomicTextFile(io.StringIO):
    """A text file opened for writing that appears on close, complete."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def close(self) -> None:
        if not self.closed:
            atomic_write_bytes(self.getvalue().encode(), self.path)
        super().close()
