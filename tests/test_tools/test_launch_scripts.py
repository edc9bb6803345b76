"""tools/dist_train.sh, dist_test.sh and slurm_train.sh hand their
arguments over intact (paths with spaces too); the launchers are replaced
by stand-ins that record what they were given."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from rmt_testing import REPO

RECORDER = f'''#!{sys.executable}
import json, os, sys
with open(os.environ['RECORD'], 'w') as f:
    json.dump(dict(argv=sys.argv[1:], pythonpath=os.environ['PYTHONPATH']),
              f)
'''


@pytest.fixture
def launchers(tmp_path):
    """A PATH with fake torchrun and srun; returns (env, record file)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for name in ('torchrun', 'srun'):
        (bin_dir / name).write_text(RECORDER)
        (bin_dir / name).chmod(0o755)
    record = tmp_path / 'record.json'
    env = {k: v for k, v in os.environ.items()
           if k not in ('NNODES', 'NODE_RANK', 'PORT', 'MASTER_ADDR', 'GPUS',
                        'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS')}
    env.update(PATH=f'{bin_dir}:{env["PATH"]}', RECORD=str(record),
               PYTHONPATH='/elsewhere')
    return env, record


def launch(script, args, env):
    proc = subprocess.run(['bash', osp.join(REPO, 'tools', script), *args],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


def recorded(record):
    with open(record) as f:
        return json.load(f)


def test_dist_train_keeps_spaces_and_options(launchers):
    env, record = launchers
    launch('dist_train.sh', ['my configs/a b.py', '4', '--work-dir',
                             'work dirs/x', '--shots', '2'], env)
    got = recorded(record)
    assert got['argv'] == [
        '--nnodes=1', '--node_rank=0', '--master_addr=127.0.0.1',
        '--master_port=29500', '--nproc_per_node=4',
        osp.join(REPO, 'tools', 'train.py'), 'my configs/a b.py',
        '--work-dir', 'work dirs/x', '--shots', '2', '--launcher', 'pytorch']
    assert got['pythonpath'].split(':') == [
        osp.join(REPO, 'tools', '..'), '/elsewhere']


def test_dist_test_and_multi_machine_settings(launchers):
    env, record = launchers
    env.update(NNODES='2', NODE_RANK='1', MASTER_ADDR='10.0.0.1',
               PORT='29601')
    launch('dist_test.sh', ['c d.py', 'masks final.pth', '2', '--out',
                            'm.json'], env)
    assert recorded(record)['argv'] == [
        '--nnodes=2', '--node_rank=1', '--master_addr=10.0.0.1',
        '--master_port=29601', '--nproc_per_node=2',
        osp.join(REPO, 'tools', 'test.py'), 'c d.py', 'masks final.pth',
        '--out', 'm.json', '--launcher', 'pytorch']


def test_slurm_train(launchers):
    env, record = launchers
    env.update(GPUS='16', SRUN_ARGS='--quotatype=auto --time=1:00:00')
    launch('slurm_train.sh', ['gpu part', 'rmt', 'my configs/x.py',
                              'work dirs/x', '--shots', '1'], env)
    assert recorded(record)['argv'] == [
        '--partition=gpu part', '--job-name=rmt', '--ntasks=16',
        '--ntasks-per-node=8', '--gres=gpu:8', '--cpus-per-task=5',
        '--kill-on-bad-exit=1', '--quotatype=auto', '--time=1:00:00',
        'python', '-u', osp.join(REPO, 'tools', 'train.py'),
        'my configs/x.py', '--work-dir=work dirs/x', '--launcher=slurm',
        '--shots', '1']


@pytest.mark.parametrize('script,needed', [('dist_train.sh', 2),
                                           ('dist_test.sh', 3),
                                           ('slurm_train.sh', 4)])
def test_missing_arguments_print_usage(launchers, script, needed):
    env, _ = launchers
    proc = subprocess.run(
        ['bash', osp.join(REPO, 'tools', script), *['x'] * (needed - 1)],
        env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and 'usage:' in proc.stderr
