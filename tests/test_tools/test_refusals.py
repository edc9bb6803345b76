"""The tools as a user runs them on a finished tiny run: refused files end
with one line, tests never touch the run's files, resume never starts
over."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch
from rmt_testing import REPO, refusal, run_tool

from rmt_mm.fileio import load_mask_file


class CreatesFile:

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return open, (self.path, 'w')


@pytest.fixture
def finished(trained_run, tiny_world, tmp_path):
    """A copy of the session's finished tiny run (3 epochs): (config, work
    dir)."""
    work = str(tmp_path / 'work')
    shutil.copytree(trained_run.work_dir, work)
    return tiny_world.config, work


def test_payload_is_refused_by_test_and_resume(finished, tmp_path):
    config, work = finished
    marker = str(tmp_path / 'code_ran')
    payload = str(tmp_path / 'payload.pth')
    torch.save({'state_dict': {'masks.scores.x': CreatesFile(marker)}},
               payload)
    test = refusal(run_tool('test', config, payload))
    resume = refusal(run_tool('train', config, '--work-dir',
                              str(tmp_path / 'other'), '--resume', payload))
    for line in (test, resume):
        assert payload in line and 'could run code' in line
    # The tool's own process ends the same way: exit code 1, that line.
    process = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'test.py'), config,
         payload], capture_output=True, text=True, timeout=300)
    assert refusal((process.returncode, process.stderr)) == test
    assert not osp.exists(marker)


def test_test_writes_into_a_subfolder(finished, tmp_path):
    config, work = finished
    dump = osp.join(work, 'tiny.py')
    before = {name: os.path.getmtime(osp.join(work, name))
              for name in os.listdir(work)}
    result = run_tool('test', config, osp.join(work, 'masks_final.pth'),
                      '--work-dir', work, '--out', str(tmp_path / 'm.json'))
    assert result.returncode == 0, result.output[-3000:]
    assert osp.isfile(osp.join(work, 'test', 'tiny.py'))
    after = {name: os.path.getmtime(osp.join(work, name))
             for name in os.listdir(work) if name != 'test'}
    assert after == before and osp.isfile(dump)


def test_a_new_run_and_a_mask_file_resume_are_refused(finished):
    config, work = finished
    line = refusal(run_tool('train', config, '--work-dir', work))
    assert 'already holds the checkpoints' in line and '--resume' in line
    masks = osp.join(work, 'masks_final.pth')
    line = refusal(run_tool('train', config, '--work-dir', work,
                            '--resume', masks))
    assert 'is a mask file' in line and 'not a resume checkpoint' in line


def test_resume_takes_the_newest_intact_checkpoint(finished):
    config, work = finished
    os.remove(osp.join(work, 'last_checkpoint'))
    newest = osp.join(work, 'epoch_3.pth')
    data = open(newest, 'rb').read()
    with open(newest, 'wb') as f:
        f.write(data[:len(data) // 3])
    final = load_mask_file(osp.join(work, 'masks_final.pth'))[0]
    result = run_tool('train', config, '--work-dir', work, '--resume')
    assert result.returncode == 0, result.output[-3000:]
    log = result.output
    assert 'resuming from epoch_2.pth' in log and 'ends early' in log
    assert 'resumed epoch: 2' in log
    # Epoch 3 trained again from epoch 2 ends where it ended before: exact
    # by construction, the same float operations on the same values on
    # this machine with the same thread count (booleans compared).
    again = load_mask_file(osp.join(work, 'masks_final.pth'))[0]
    assert all(torch.equal(again[n], final[n]) for n in final)
    torch.load(newest, weights_only=True)
