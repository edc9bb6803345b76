"""Fault injection on a work dir: lost or broken checkpoints, stale
temporary files, two runs at once, a kill during a write."""
import os
import os.path as osp
import signal
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import checkpoint_hook
from rmt_testing import REPO

from rmt_mm.fileio import FileRefusedError
from rmt_mm.fileio.resume_checkpoint import to_plain_checkpoint
from rmt_mm.runs import work_dir as work_dir_module
from rmt_mm.runs.work_dir import (LOCK_FILE, WorkDirLock,
                                  choose_resume_checkpoint,
                                  prepare_training_work_dir)


def save_checkpoint(path: str, epoch: int) -> str:
    checkpoint = dict(meta=dict(epoch=epoch),
                      state_dict={'masks.scores.a': torch.full((4, ),
                                                               epoch * 1.)})
    to_plain_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return path


@pytest.fixture
def run(tmp_path):
    """A work dir with epoch_1..3.pth and last_checkpoint naming epoch_3."""
    folder = str(tmp_path / 'work')
    os.makedirs(folder)
    for epoch in (1, 2, 3):
        save_checkpoint(osp.join(folder, f'epoch_{epoch}.pth'), epoch)
    with open(osp.join(folder, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(folder, 'epoch_3.pth'))
    return folder


@pytest.fixture
def warnings(monkeypatch):
    messages = []
    monkeypatch.setattr(work_dir_module, 'print_log',
                        lambda message, **kwargs: messages.append(message))
    return messages


def truncate(path: str) -> None:
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


def test_resume_takes_last_checkpoint_when_all_is_well(run, warnings):
    assert choose_resume_checkpoint(run) == osp.join(run, 'epoch_3.pth')
    assert warnings == []


def test_resume_without_last_checkpoint_does_not_start_over(run, warnings):
    os.remove(osp.join(run, 'last_checkpoint'))
    assert choose_resume_checkpoint(run) == osp.join(run, 'epoch_3.pth')
    assert 'last_checkpoint is missing' in warnings[0]


@pytest.mark.parametrize('damage', ['truncate', 'delete'])
def test_resume_falls_back_to_the_newest_intact_checkpoint(
        run, warnings, damage):
    newest = osp.join(run, 'epoch_3.pth')
    truncate(newest) if damage == 'truncate' else os.remove(newest)
    assert choose_resume_checkpoint(run) == osp.join(run, 'epoch_2.pth')
    assert 'resuming from epoch_2.pth' in warnings[0]
    assert 'last_checkpoint names epoch_3.pth' in warnings[0]
    if damage == 'truncate':
        assert newest in warnings[0] and 'ends early' in warnings[0]


def test_resume_refuses_when_no_checkpoint_is_intact(run):
    for name in os.listdir(run):
        if name.startswith('epoch_'):
            truncate(osp.join(run, name))
    with pytest.raises(FileRefusedError, match='no checkpoint in .* intact'):
        choose_resume_checkpoint(run)


def test_resume_of_an_empty_work_dir_starts_at_epoch_0(tmp_path, warnings):
    cfg = Config(dict(work_dir=str(tmp_path / 'new'), resume=True,
                      load_from=None))
    with prepare_training_work_dir(cfg):
        assert cfg.load_from is None and cfg.resume is False


def test_a_new_run_never_overwrites_checkpoints(run):
    cfg = Config(dict(work_dir=run, resume=False, load_from=None))
    with pytest.raises(FileRefusedError,
                       match='already holds the checkpoints.*--resume'):
        prepare_training_work_dir(cfg)


def test_prepare_resumes_and_cleans_temporary_files(run, warnings):
    stale = osp.join(run, '.tmp_abc123')
    open(stale, 'wb').write(b'half a checkpoint')
    cfg = Config(dict(work_dir=run, resume=True, load_from=None))
    with prepare_training_work_dir(cfg):
        assert cfg.load_from == osp.join(run, 'epoch_3.pth') and cfg.resume
    assert not osp.exists(stale)
    assert '.tmp_abc123' in warnings[0]


def test_one_run_per_work_dir(run):
    with WorkDirLock(run):
        with pytest.raises(FileRefusedError,
                           match=f'pid {os.getpid()}.*own --work-dir'):
            WorkDirLock(run)
    WorkDirLock(run).release()  # free again


def test_a_killed_run_leaves_no_stuck_lock(run):
    holder = subprocess.Popen(
        [sys.executable, '-c',
         'import fcntl, os, sys, time\n'
         f'fd = os.open({osp.join(run, LOCK_FILE)!r}, os.O_RDWR | '
         'os.O_CREAT)\n'
         'fcntl.flock(fd, fcntl.LOCK_EX)\n'
         'print("locked", flush=True)\n'
         'time.sleep(600)\n'],
        stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        with pytest.raises(FileRefusedError, match='in use'):
            WorkDirLock(run)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    WorkDirLock(run).release()


def test_last_checkpoint_is_replaced_atomically(tmp_path):
    path = str(tmp_path / 'last_checkpoint')
    open(path, 'w').write('epoch_1.pth')
    with checkpoint_hook.open(path, 'w') as f:
        f.write('epoch_2.pth')
        # A kill here would leave the old, complete name.
        assert open(path).read() == 'epoch_1.pth'
    assert open(path).read() == 'epoch_2.pth'
    assert os.listdir(tmp_path) == ['last_checkpoint']
