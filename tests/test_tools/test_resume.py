"""A training run killed with SIGKILL and restarted with ``--resume`` ends
with exactly the masks of the uninterrupted run."""
import os
import os.path as osp
import signal
import subprocess
import sys

import pytest
import torch
from rmt_testing import REPO, make_image_folder, write_tiny_config

from rmt_mm.utils.mask_file import load_mask_file

EPOCHS = 4
# 3 classes x 4 shots, batch 3: 4 iterations per epoch.
GLOBAL_BATCH = 3
# Test-only hook, imported by the run through custom_imports.
KILL_HOOK = '''
import builtins
import io
import os
import signal

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def die():
    os.kill(os.getpid(), signal.SIGKILL)


class DieHalfway:
    """A binary file that dies after writing half of what it is given."""

    def __init__(self, file):
        self.file = file

    def write(self, data):
        self.file.write(data[:len(data) // 2])
        self.file.flush()
        os.fsync(self.file.fileno())
        die()

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.file.__exit__(*exc)


@HOOKS.register_module()
class RMTTestKillHook(Hook):
    """Kills the process after iteration ``iter`` of epoch index ``epoch``,
    or, with ``iter=None``, in the middle of writing the checkpoint of
    epoch ``epoch`` (1-based, as in epoch_N.pth)."""

    def __init__(self, epoch, iter=None):
        self.epoch, self.iter = epoch, iter

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if self.iter is not None and (runner.epoch, batch_idx) == (
                self.epoch, self.iter):
            die()

    def before_save_checkpoint(self, runner, checkpoint):
        if self.iter is not None or runner.epoch + 1 != self.epoch:
            return
        real_open = io.open

        def dying_open(file, mode='r', *args, **kwargs):
            opened = real_open(file, mode, *args, **kwargs)
            return DieHalfway(opened) if 'wb' in mode else opened

        builtins.open = io.open = dying_open
'''


def train(cfg: str, work_dir: str, *options: str) -> subprocess.Popen:
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHONPATH=os.pathsep.join(
            [osp.dirname(cfg),
             os.environ.get('PYTHONPATH', '')]))
    log = open(osp.join(osp.dirname(work_dir), osp.basename(work_dir) +
                        '.log'), 'w')
    with log:
        return subprocess.Popen(
            [sys.executable, osp.join(REPO, 'tools', 'train.py'), cfg,
             '--work-dir', work_dir, '--no-validate', *options],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen, work_dir: str) -> int:
    code = proc.wait(timeout=300)
    with open(work_dir + '.log') as f:
        log = f.read()
    return code, log


def final_state(work_dir: str):
    """(hard masks from masks_final.pth, mask scores of the last
    checkpoint)."""
    masks, _ = load_mask_file(osp.join(work_dir, 'masks_final.pth'))
    ckpt = torch.load(
        osp.join(work_dir, f'epoch_{EPOCHS}.pth'), weights_only=False)
    scores = {k: v for k, v in ckpt['state_dict'].items() if 'scores' in k}
    return masks, scores


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """The config, and the uninterrupted run (started, not waited for)."""
    root = tmp_path_factory.mktemp('resume')
    data_root = make_image_folder(str(root / 'data'))
    cfg = write_tiny_config(str(root / 'cfg.py'), data_root, epochs=EPOCHS)
    with open(cfg, 'a') as f:
        f.write(f'global_batch_size = {GLOBAL_BATCH}\n'
                "custom_imports = dict(imports=['rmt_mm', 'kill_hook'], "
                'allow_failed_imports=False)\n')
    (root / 'kill_hook.py').write_text(KILL_HOOK)
    reference = str(root / 'reference')
    return cfg, reference, train(cfg, reference)


def reference_state(setup):
    _, reference, proc = setup
    code, log = finish(proc, reference)
    assert code == 0, log[-3000:]
    return final_state(reference)


def assert_same_final_masks(setup, work_dir: str):
    ref_masks, ref_scores = reference_state(setup)
    masks, scores = final_state(work_dir)
    assert list(masks) == list(ref_masks)
    for name in ref_masks:
        assert torch.equal(masks[name], ref_masks[name]), name
    assert scores.keys() == ref_scores.keys()
    for key in ref_scores:
        assert torch.equal(scores[key], ref_scores[key]), key
    # The masks trained: the comparison is not between two fresh masks.
    assert any(not m.all() for m in ref_masks.values())


def assert_no_partial_checkpoint(work_dir: str):
    for name in os.listdir(work_dir):
        if name.endswith('.pth'):
            torch.load(osp.join(work_dir, name), weights_only=False)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    assert osp.isfile(last), f'last_checkpoint names a missing {last}'
    return last


def test_resume_after_kill_mid_epoch(setup):
    cfg, _, _ = setup
    work_dir = str(osp.join(osp.dirname(cfg), 'killed_mid_epoch'))
    # Killed after the 2nd iteration of the 3rd epoch (epoch_2.pth saved).
    code, log = finish(
        train(cfg, work_dir, '--cfg-options',
              'default_hooks.kill.type=RMTTestKillHook',
              'default_hooks.kill.epoch=2', 'default_hooks.kill.iter=1'),
        work_dir)
    assert code == -signal.SIGKILL, log[-3000:]
    # The kill precedes the logger's line for that iteration.
    assert 'Epoch(train) [3][1/4]' in log
    assert not osp.exists(osp.join(work_dir, 'masks_final.pth'))
    last = assert_no_partial_checkpoint(work_dir)
    assert osp.basename(last) == 'epoch_2.pth'

    code, log = finish(train(cfg, work_dir, '--resume'), work_dir)
    assert code == 0, log[-3000:]
    assert 'resumed epoch: 2' in log
    assert_same_final_masks(setup, work_dir)


def test_resume_after_kill_while_saving_checkpoint(setup):
    cfg, _, _ = setup
    work_dir = str(osp.join(osp.dirname(cfg), 'killed_saving'))
    # Killed half-way through writing epoch_3.pth.
    code, log = finish(
        train(cfg, work_dir, '--cfg-options',
              'default_hooks.kill.type=RMTTestKillHook',
              'default_hooks.kill.epoch=3'), work_dir)
    assert code == -signal.SIGKILL, log[-3000:]
    assert 'Saving checkpoint at 3 epochs' in log
    last = assert_no_partial_checkpoint(work_dir)
    assert osp.basename(last) == 'epoch_2.pth'

    code, log = finish(train(cfg, work_dir, '--resume'), work_dir)
    assert code == 0, log[-3000:]
    assert 'resumed epoch: 2' in log
    assert_same_final_masks(setup, work_dir)
