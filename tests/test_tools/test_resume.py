"""A training run killed with SIGKILL and restarted with ``--resume`` ends
with exactly the masks of the uninterrupted run."""
import os
import os.path as osp
import signal
import subprocess
import sys
from typing import List, Tuple

import pytest
import torch
from rmt_testing import REPO, make_image_folder, run_tool, write_tiny_config

from rmt_mm.fileio.mask_file import load_mask_file

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
    """Kills the process after iteration ``iteration`` (0-based) of epoch
    index ``epoch``, or, without ``iteration``, half-way through writing
    the checkpoint of epoch ``epoch`` (1-based, as in epoch_N.pth)."""

    def __init__(self, epoch, iteration=None):
        self.epoch, self.iteration = epoch, iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if (runner.epoch, batch_idx) == (self.epoch, self.iteration):
            die()

    def before_save_checkpoint(self, runner, checkpoint):
        if self.iteration is not None or runner.epoch + 1 != self.epoch:
            return
        real_open = io.open

        def dying_open(file, mode='r', *args, **kwargs):
            opened = real_open(file, mode, *args, **kwargs)
            return DieHalfway(opened) if 'wb' in mode else opened

        builtins.open = io.open = dying_open
'''


def train(cfg: str, work_dir: str, *options: str) -> subprocess.Popen:
    """Starts tools/train.py; its output goes to ``work_dir + '.log'``."""
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHONPATH=os.pathsep.join(
            [osp.dirname(cfg),
             os.environ.get('PYTHONPATH', '')]))
    with open(work_dir + '.log', 'w') as log:
        return subprocess.Popen(
            [sys.executable, osp.join(REPO, 'tools', 'train.py'), cfg,
             '--work-dir', work_dir, '--no-validate', *options],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen, work_dir: str) -> Tuple[int, str]:
    """Waits for a :func:`train` process: (exit code, its output)."""
    try:
        code = proc.wait(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    with open(work_dir + '.log') as f:
        return code, f.read()


def kill_options(**where) -> List[str]:
    """``--cfg-options`` that add the kill hook (see ``KILL_HOOK``)."""
    return ['--cfg-options', 'default_hooks.kill.type=RMTTestKillHook'] + [
        f'default_hooks.kill.{key}={value}' for key, value in where.items()]


KILLED_RUNS = {
    # After the 2nd iteration of the 3rd epoch (epoch_2.pth saved).
    'mid_epoch': kill_options(epoch=2, iteration=1),
    # Half-way through writing epoch_3.pth. mmengine's CheckpointHook
    # deletes the oldest kept checkpoint before writing the new one, so the
    # default runtime keeps two: a complete one survives the write.
    'saving': kill_options(epoch=3),
}


def final_state(work_dir: str) -> Tuple[dict, dict]:
    """(hard masks from masks_final.pth, mask scores of the last
    checkpoint)."""
    masks, _ = load_mask_file(osp.join(work_dir, 'masks_final.pth'))
    ckpt = torch.load(
        osp.join(work_dir, f'epoch_{EPOCHS}.pth'), weights_only=False)
    scores = {k: v for k, v in ckpt['state_dict'].items() if 'scores' in k}
    return masks, scores


def train_here(cfg: str, work_dir: str, *options: str) -> Tuple[int, str]:
    """Runs tools/train.py in this process with one thread, as the
    processes of :func:`train` have: (exit code, its output)."""
    torch.set_num_threads(1)
    return run_tool('train', cfg, '--work-dir', work_dir, '--no-validate',
                    *options)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """Starts every killed run, then runs the uninterrupted one in this
    process while they go on.

    Yields:
        The config, ``{run: (work_dir, process)}`` of the killed runs and
        the uninterrupted run's work dir.
    """
    root = tmp_path_factory.mktemp('resume')
    data_root = make_image_folder(str(root / 'data'))
    cfg = write_tiny_config(str(root / 'cfg.py'), data_root, epochs=EPOCHS)
    with open(cfg, 'a') as f:
        f.write(f'global_batch_size = {GLOBAL_BATCH}\n'
                "custom_imports = dict(imports=['rmt_mm', 'kill_hook'], "
                'allow_failed_imports=False)\n')
    (root / 'kill_hook.py').write_text(KILL_HOOK)
    started = {}
    for name, options in KILLED_RUNS.items():
        work_dir = str(root / name)
        started[name] = work_dir, train(cfg, work_dir, *options)
    reference = str(root / 'reference')
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root))  # where custom_imports finds it
        code, log = train_here(cfg, reference)
        assert code == 0, log[-3000:]
        yield cfg, started, reference
    for _, proc in started.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def finish_killed(runs, name: str) -> str:
    """Waits for a killed run; checks that it was killed and left only
    complete checkpoints. Returns its work dir."""
    work_dir, proc = runs[1][name]
    code, log = finish(proc, work_dir)
    assert code == -signal.SIGKILL, log[-3000:]
    assert not osp.exists(osp.join(work_dir, 'masks_final.pth'))
    for filename in os.listdir(work_dir):
        if filename.endswith('.pth'):
            torch.load(osp.join(work_dir, filename), weights_only=False)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    assert last == osp.join(work_dir, 'epoch_2.pth')
    assert osp.isfile(last), f'last_checkpoint names a deleted {last}'
    return work_dir


def resume_and_compare(runs, work_dir: str, *options: str) -> None:
    """Resumes a killed run (in this process); its final masks and scores
    must equal the uninterrupted run's exactly."""
    cfg, _, reference = runs
    code, log = train_here(cfg, work_dir, '--resume', *options)
    assert code == 0, log[-3000:]
    assert 'resumed epoch: 2' in log
    ref_masks, ref_scores = final_state(reference)
    masks, scores = final_state(work_dir)
    # Exact by construction: both runs execute the same float operations on
    # the same values on this machine with one thread each (the killed
    # processes too: OMP_NUM_THREADS=1), and a resume restores scores,
    # optimiser state and draws bit for bit; masks are booleans.
    assert list(masks) == list(ref_masks)
    for name in ref_masks:
        assert torch.equal(masks[name], ref_masks[name]), name
    assert scores.keys() == ref_scores.keys()
    for key in ref_scores:
        assert torch.equal(scores[key], ref_scores[key]), key
    # The masks trained: the comparison is not between two fresh masks.
    assert any(not m.all() for m in ref_masks.values())


def test_resume_after_kill_mid_epoch(runs):
    work_dir = finish_killed(runs, 'mid_epoch')
    with open(work_dir + '.log') as f:
        # The kill precedes the logger's line for that iteration.
        assert 'Epoch(train) [3][1/4]' in f.read()
    resume_and_compare(runs, work_dir)


def test_resume_after_kill_while_saving_checkpoint(runs):
    """Checkpoints are written atomically: the half-written epoch_3.pth
    never appears under its name."""
    work_dir = finish_killed(runs, 'saving')
    assert not osp.exists(osp.join(work_dir, 'epoch_3.pth'))
    resume_and_compare(runs, work_dir)
