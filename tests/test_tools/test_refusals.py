"""The tools as a user runs them on a finished tiny run: refused files end
with one line, tests never touch the run's files, resume never starts
over."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from rmt_testing import REPO, make_image_folder, write_tiny_config

from rmt_mm.fileio import load_mask_file


class CreatesFile:

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return open, (self.path, 'w')


def tool(*args):
    return subprocess.run([sys.executable, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
    """A tiny 2-epoch run: (config, work dir)."""
    root = tmp_path_factory.mktemp('refusals')
    config = write_tiny_config(str(root / 'tiny.py'),
                               make_image_folder(str(root / 'data')),
                               epochs=2)
    work = str(root / 'work')
    result = tool('tools/train.py', config, '--work-dir', work)
    assert result.returncode == 0, result.stderr[-3000:]
    return config, work


def refusal(result) -> str:
    """The one line a refused file ends a tool with."""
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('Error: ') and 'Traceback' not in result.stderr
    return last


def test_payload_is_refused_by_test_and_resume(finished, tmp_path):
    config, work = finished
    marker = str(tmp_path / 'code_ran')
    payload = str(tmp_path / 'payload.pth')
    torch.save({'state_dict': {'masks.scores.x': CreatesFile(marker)}},
               payload)
    for args in (['tools/test.py', config, payload],
                 ['tools/train.py', config, '--work-dir',
                  str(tmp_path / 'other'), '--resume', payload]):
        line = refusal(tool(*args))
        assert payload in line and 'could run code' in line
    assert not osp.exists(marker)


def test_test_writes_into_a_subfolder(finished, tmp_path):
    config, work = finished
    dump = osp.join(work, 'tiny.py')
    before = {name: os.path.getmtime(osp.join(work, name))
              for name in os.listdir(work)}
    result = tool('tools/test.py', config, osp.join(work, 'masks_final.pth'),
                  '--work-dir', work, '--out', str(tmp_path / 'm.json'))
    assert result.returncode == 0, result.stderr[-3000:]
    assert osp.isfile(osp.join(work, 'test', 'tiny.py'))
    after = {name: os.path.getmtime(osp.join(work, name))
             for name in os.listdir(work) if name != 'test'}
    assert after == before and osp.isfile(dump)


def test_a_new_run_and_a_mask_file_resume_are_refused(finished):
    config, work = finished
    line = refusal(tool('tools/train.py', config, '--work-dir', work))
    assert 'already holds the checkpoints' in line and '--resume' in line
    masks = osp.join(work, 'masks_final.pth')
    line = refusal(tool('tools/train.py', config, '--work-dir', work,
                        '--resume', masks))
    assert 'is a mask file' in line and 'not a resume checkpoint' in line


def test_resume_takes_the_newest_intact_checkpoint(finished):
    config, work = finished
    os.remove(osp.join(work, 'last_checkpoint'))
    newest = osp.join(work, 'epoch_2.pth')
    data = open(newest, 'rb').read()
    with open(newest, 'wb') as f:
        f.write(data[:len(data) // 3])
    final = load_mask_file(osp.join(work, 'masks_final.pth'))[0]
    result = tool('tools/train.py', config, '--work-dir', work, '--resume')
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert 'resuming from epoch_1.pth' in log and 'ends early' in log
    assert 'resumed epoch: 1' in log
    # Epoch 2 trained again from epoch 1 ends where it ended before: exact
    # by construction, the same float operations on the same values on
    # this machine with the same thread count (booleans compared).
    again = load_mask_file(osp.join(work, 'masks_final.pth'))[0]
    assert all(torch.equal(again[n], final[n]) for n in final)
    torch.load(newest, weights_only=True)
