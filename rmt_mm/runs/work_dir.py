"""A training run's work dir: one run at a time, and ``--resume`` that
never starts over.

:func:`prepare_training_work_dir` runs before the Runner is built. It locks
the work dir (a ``flock`` the kernel drops when the process dies, so a
killed run leaves no stale lock), deletes the temporary files of writes a
kill interrupted, refuses to start a new run over existing checkpoints or a
finished run's ``masks_final.pth`` and, for ``--resume`` without a path,
picks the newest checkpoint that loads and passes its checksum, whatever
``last_checkpoint`` says. ``--resume`` never starts at epoch 0 in a work dir
whose run finished: a mask file holds no optimizer or scheduler state to
resume from.
"""
import fcntl
import logging
import os
import os.path as osp
import re
from contextlib import ExitStack, nullcontext
from typing import ContextManager, List, Optional, Tuple

from mmengine.config import Config
from mmengine.logging import print_log

from ..engine.hooks.mask_file_hook import FINAL_MASK_FILE
from ..fileio.atomic import TEMPORARY_PREFIX
from ..fileio.resume_checkpoint import load_resume_checkpoint
from ..fileio.safe_load import FileRefusedError

LOCK_FILE = '.rmt_run.lock'
LAST_CHECKPOINT = 'last_checkpoint'
_CHECKPOINT_NAME = re.compile(r'^(?:epoch|iter)_(\d+)\.pth$')


class WorkDirLock:
    """An exclusive lock on a work dir, held while this object lives.

    Raises:
        FileRefusedError: If another process holds it.
    """

    def __init__(self, work_dir: str) -> None:
        os.makedirs(work_dir, exist_ok=True)
        path = osp.join(work_dir, LOCK_FILE)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self._fd, 64).decode(errors='replace').strip()
            os.close(self._fd)
            raise FileRefusedError(
                f'Work dir {work_dir!r} is in use by another training run '
                f'(pid {holder or "?"}). Wait for it to end, or give this '
                'run its own --work-dir.') from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())

    def release(self) -> None:
        """Drops the lock (also dropped when the process ends)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> 'WorkDirLock':
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def clean_temporary_files(work_dir: str) -> List[str]:
    """Deletes what interrupted atomic writes left (``.tmp_*``).

    Only call it while holding the work dir's lock.

    Returns:
        The deleted file names.
    """
    names = sorted(n for n in os.listdir(work_dir)
                   if n.startswith(TEMPORARY_PREFIX))
    for name in names:
        os.remove(osp.join(work_dir, name))
    if names:
        print_log(f'Deleted {len(names)} temporary file(s) of interrupted '
                  f'writes in {work_dir}: {", ".join(names)}',
                  logger='current', level=logging.WARNING)
    return names


def list_checkpoints(work_dir: str) -> List[str]:
    """Resume checkpoints (``epoch_N.pth``, ``iter_N.pth``) in
    ``work_dir``, newest first."""
    if not osp.isdir(work_dir):
        return []
    found = [(int(m.group(1)), name) for name in os.listdir(work_dir)
             if (m := _CHECKPOINT_NAME.match(name))]
    return [osp.join(work_dir, name) for _, name in sorted(found,
                                                           reverse=True)]


def newest_intact_checkpoint(
        work_dir: str) -> Tuple[Optional[str], List[str]]:
    """The newest checkpoint of ``work_dir`` that loads and passes its
    checksum.

    Returns:
        Its path (``None`` if none is intact) and why each newer one was
        passed over.
    """
    passed_over = []
    for path in list_checkpoints(work_dir):
        try:
            load_resume_checkpoint(path)
        except FileRefusedError as error:
            passed_over.append(str(error))
            continue
        return path, passed_over
    return None, passed_over


def _recorded_last_checkpoint(work_dir: str) -> Optional[str]:
    path = osp.join(work_dir, LAST_CHECKPOINT)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return osp.basename(f.read().strip()) or None


def choose_resume_checkpoint(work_dir: str) -> Optional[str]:
    """What ``--resume`` without a path resumes from; warns when it is not
    what ``last_checkpoint`` names, and why.

    Returns:
        The newest intact checkpoint; ``None`` when the work dir has no
        checkpoint (a fresh start).

    Raises:
        FileRefusedError: If checkpoints exist but none is intact, or if
            there is none but a finished run's final mask file is there.
    """
    if not list_checkpoints(work_dir):
        final = osp.join(work_dir, FINAL_MASK_FILE)
        if osp.isfile(final):
            raise FileRefusedError(
                f'--resume: {work_dir!r} holds the final masks of a finished '
                f'run ({FINAL_MASK_FILE}) but no checkpoint (epoch_N.pth) to '
                'resume from; resuming would start over at epoch 0 and '
                'overwrite them. Evaluate the run with tools/test.py CONFIG '
                f'{final}, or train again in another --work-dir.')
        print_log(f'--resume: no checkpoint in {work_dir} yet; starting at '
                  'epoch 0.', logger='current')
        return None
    chosen, passed_over = newest_intact_checkpoint(work_dir)
    if chosen is None:
        raise FileRefusedError(
            f'--resume: no checkpoint in {work_dir!r} is intact (' +
            ' '.join(passed_over) + ') Copy an intact checkpoint there, or '
            'start over in another --work-dir.')
    recorded = _recorded_last_checkpoint(work_dir)
    if passed_over or recorded != osp.basename(chosen):
        marker = (f'{LAST_CHECKPOINT} names {recorded}'
                  if recorded else f'{LAST_CHECKPOINT} is missing')
        print_log(
            f'--resume: resuming from {osp.basename(chosen)}, the newest '
            f'intact checkpoint in {work_dir} ({marker}). ' +
            ' '.join(passed_over), logger='current', level=logging.WARNING)
    return chosen


def prepare_training_work_dir(cfg: Config) -> ContextManager:
    """Readies ``cfg.work_dir`` for a training run (see the module
    docstring); sets ``cfg.load_from`` when resuming without a path.

    Returns:
        The work dir's lock on the main process (a no-op context on the
        others): run the training inside ``with`` it.

    Raises:
        FileRefusedError: If another run holds the work dir, if the work
            dir holds checkpoints or final masks and ``cfg.resume`` is off,
            or if ``--resume`` finds nothing to resume from.
    """
    work_dir = cfg.work_dir
    lock = nullcontext()
    if int(os.environ.get('RANK', 0)) == 0:
        lock = WorkDirLock(work_dir)
    with ExitStack() as release_on_refusal:
        release_on_refusal.enter_context(lock)
        if isinstance(lock, WorkDirLock):
            clean_temporary_files(work_dir)
        _refuse_overwriting(cfg, work_dir)
        if cfg.get('resume') and cfg.get('load_from') is None:
            cfg.load_from = choose_resume_checkpoint(work_dir)
            cfg.resume = cfg.load_from is not None
        release_on_refusal.pop_all()
    return lock


def _refuse_overwriting(cfg: Config, work_dir: str) -> None:
    """Refuses a new run (not ``--resume``) over a run's checkpoints or
    final masks."""
    if cfg.get('resume'):
        return
    checkpoints = list_checkpoints(work_dir)
    if checkpoints:
        names = ', '.join(osp.basename(p) for p in checkpoints)
        raise FileRefusedError(
            f'Work dir {work_dir!r} already holds the checkpoints of a '
            f'run ({names}); a new run would overwrite them. Add '
            '--resume to continue that run, or give another '
            '--work-dir.')
    if osp.isfile(osp.join(work_dir, FINAL_MASK_FILE)):
        raise FileRefusedError(
            f'Work dir {work_dir!r} already holds the final masks of a '
            f'finished run ({FINAL_MASK_FILE}); a new run would '
            'overwrite them. Give another --work-dir.')
