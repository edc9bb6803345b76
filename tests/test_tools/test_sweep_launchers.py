"""tools/sweep.py's launchers: runs one after another and N at once, the
same runs as submitit jobs on this machine, the sbatch script submitit
writes for slurm (not submitted), a preempted job that resumes, --status
and the --dry-run estimate.

The real runs train the session's tiny CLIP for 2 epochs on 1 shot per
class: one sweep of two runs (--jobs 1) is shared by the tests that compare
metrics with it.
"""
import importlib.util
import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
from functools import partial
from types import SimpleNamespace

import pytest
import submitit
from rmt_testing import REPO, load_tool, run_tool, sweep_steps_in_process
from submitit.helpers import DelayedSubmission

from rmt_mm.runs import sweep
from rmt_mm.runs.experiments import metrics_path, run_dir, zero_shot_dir
from rmt_mm.runs.sweep_launchers import (JOBS_FILE, JOBS_FOLDER, Run, Step,
                                         SweepJob, execute_run, lanes,
                                         read_job_record, update_job_record)

sweep_cli = load_tool('sweep')
DTD = osp.join(REPO, 'configs/rmt/rmt_vitb16_dtd_16shot.py')
IMAGENET = osp.join(REPO, 'configs/rmt/rmt_vitb16_imagenet_16shot.py')


def tiny_argv(config, root, *extra):
    return ['--configs', f'tiny={config}', '--shots', '1', '--seeds', '1',
            '--work-root', str(root), *extra]


def metrics(folder):
    with open(metrics_path(folder)) as file:
        return json.load(file)


@pytest.fixture(scope='module')
def tiny(tiny_world, tmp_path_factory):
    """A 2-epoch config of the session's tiny world, and the reference
    sweep of its grid (zero-shot CLIP, and 1 shot with seed 1) run one
    after another, with the steps' tools in this process."""
    root = tmp_path_factory.mktemp('launchers')
    config = root / 'tiny2.py'
    config.write_text(f'_base_ = [{tiny_world.config!r}]\n'
                      'train_cfg = dict(max_epochs=2, val_interval=2)\n')
    reference = root / 'jobs1'
    # Its steps in this process: the tests below run them as processes.
    with sweep_steps_in_process():
        result = run_tool('sweep', *tiny_argv(config, reference,
                                              '--zero-shot'))
    assert result.returncode == 0, result.output
    folders = [zero_shot_dir(str(reference), 'tiny'),
               run_dir(str(reference), 'tiny', 1, 1)]
    return SimpleNamespace(config=str(config), root=root,
                           reference=reference, folders=folders,
                           output=result.output)


def test_jobs_one_runs_the_grid_and_restarts(tiny):
    assert '[2/2] tiny shots=1 seed=1: train, test' in tiny.output
    assert 'Sweep done' in tiny.output
    zero_shot, trained = tiny.folders
    assert 'accuracy/top1' in metrics(zero_shot)
    # The run trained on 1 shot per class drawn with seed 1, as asked.
    with open(osp.join(trained, 'fewshot_split.json')) as f:
        trained_on = json.load(f)['train']
    assert {osp.basename(osp.dirname(p)) for p in trained_on} == {
        'cat', 'dog', 'bird'} and len(trained_on) == 3
    record = read_job_record(trained)
    assert record['state'] == 'finished' and record['launcher'] == 'local'
    assert [kind for kind, _ in record['durations']] == ['train', 'test']
    again = run_tool('sweep', *tiny_argv(tiny.config, tiny.reference,
                                         '--zero-shot'))
    assert '2 run(s): 2 finished, 0 to do.' in again.output


def test_jobs_two_gives_the_metrics_of_jobs_one(tiny):
    root = tiny.root / 'jobs2'
    result = run_tool('sweep', *tiny_argv(tiny.config, root, '--zero-shot',
                                          '--jobs', '2'))
    assert result.returncode == 0, result.output
    assert ' on ' in result.output  # each run on its GPU or its threads
    assert metrics(zero_shot_dir(str(root), 'tiny')) == metrics(
        tiny.folders[0])
    assert metrics(run_dir(str(root), 'tiny', 1, 1)) == metrics(
        tiny.folders[1])


def test_lanes_pin_gpus_or_share_the_threads(monkeypatch):
    from rmt_mm.runs.sweep_launchers import local
    monkeypatch.setattr(local, 'visible_gpus', lambda: [])
    monkeypatch.setattr(os, 'sched_getaffinity', lambda _: set(range(8)))
    assert [(env['OMP_NUM_THREADS'], where) for env, where in
            lanes(3, 1)] == [('2', '2 CPU thread(s)')] * 3
    monkeypatch.setattr(local, 'visible_gpus', lambda: ['4', '5', '6', '7'])
    pinned = lanes(2, 2)
    assert [env['CUDA_VISIBLE_DEVICES'] for env, _ in pinned] == [
        '4,5', '6,7']
    # Two runs of torchrun on one machine: two ports.
    assert pinned[0][0]['PORT'] != pinned[1][0]['PORT']
    with pytest.raises(ValueError, match='needs 6 GPUs; 4 are visible'):
        lanes(3, 2)


def test_submitit_local_jobs_resume_a_preempted_run(tiny):
    """A job preempted after epoch 1 of 2 is requeued and resumes, through
    submitit's local executor, as slurm's jobs do."""
    root = tiny.root / 'submitit_local'
    argv = tiny_argv(tiny.config, root, '--launcher', 'submitit-local')
    folder = run_dir(str(root), 'tiny', 1, 1)
    os.makedirs(folder)
    shutil.copy(osp.join(tiny.folders[1], 'epoch_1.pth'), folder)
    # What submitit does on the scheduler's signal: checkpoint() gives the
    # job to requeue, planned again from the folder.
    job = SweepJob('tiny shots=1 seed=1', folder,
                   partial(sweep.replan_run, sweep_cli.parse_args(argv)),
                   sweep.record_settings, 'submitit-local')
    requeued = job.checkpoint()
    requeued.dump(str(root / 'requeued.pkl'))
    requeued = DelayedSubmission.load(str(root / 'requeued.pkl')).function
    assert isinstance(requeued, SweepJob) and requeued.work_dir == folder
    steps = requeued.plan(folder).steps
    assert [s.kind for s in steps] == ['train', 'test']
    assert '--resume' in steps[0].cmd
    status = run_tool('sweep', *argv, '--status').output
    assert 'requeued; resumes from epoch_1.pth' in status

    result = run_tool('sweep', *argv)
    assert result.returncode == 0, result.output
    assert 'Submitted 1 run(s) to submitit-local:' in result.output
    assert '1 job(s) finished, 0 failed.' in result.output
    with open(osp.join(folder, 'sweep.log')) as log:
        assert '--resume' in log.read()
    # Exactly the uninterrupted run's result.
    assert metrics(folder) == metrics(tiny.folders[1])
    # The job ran the run (its record names it), and its log says so.
    record = read_job_record(folder)
    assert record['launcher'] == 'submitit-local'
    assert record['state'] == 'finished'
    with open(root / JOBS_FOLDER / JOBS_FILE) as file:
        job_id = json.load(file)[osp.abspath(folder)]['job_id']
    assert record['job_id'] == job_id
    assert f'  {job_id}  tiny shots=1 seed=1' in result.output
    with open(root / JOBS_FOLDER / f'{job_id}_0_log.out') as log:
        assert 'tiny shots=1 seed=1: finished.' in log.read()
    # Finished runs are skipped: by the sweep, and by a job.
    again = run_tool('sweep', *argv)
    assert '1 run(s): 1 finished, 0 to do.' in again.output
    assert 'Submitted' not in again.output
    assert job() == 'finished'
    status = run_tool('sweep', *argv, '--status').output
    assert f'finished  {job_id}  top-1 ' in status
    assert 'Nothing left to do.' in status


FAKE_SBATCH = '''#!/bin/sh
count=$(cat "{dir}/count" 2>/dev/null || echo 0)
count=$((count + 1))
echo $count > "{dir}/count"
echo "$@" > "{dir}/sbatch_args_$count"
cp "$1" "{dir}/sbatch_$count.sh"
echo "Submitted batch job $((4240 + count))"
'''


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """sbatch, srun and sacct on PATH: sbatch keeps its script and answers
    with job ids 4241, 4242, ...; sacct prints the file ``sacct.txt``."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    scripts = dict(sbatch=FAKE_SBATCH.format(dir=bin_dir),
                   srun='#!/bin/sh\nexit 0\n',
                   sacct=f'#!/bin/sh\ncat "{bin_dir}/sacct.txt"\n')
    for name, text in scripts.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv('PATH', f'{bin_dir}{os.pathsep}{os.environ["PATH"]}')
    submitit.SlurmJob.watcher.clear()
    yield bin_dir
    submitit.SlurmJob.watcher.clear()


def test_slurm_job_arrays_and_their_sbatch_scripts(tmp_path, fake_slurm):
    big = tmp_path / 'big.py'
    big.write_text(f'_base_ = [{DTD!r}]\n'
                   "slurm = dict(partition='big', mem_gb=64, "
                   "setup=['module load cuda'])\n")
    root = tmp_path / 'sweep'
    argv = ['--configs', f'dtd={DTD}', f'big={big}', '--shots', '1',
            '--seeds', '1', '2', '--work-root', str(root), '--launcher',
            'slurm', '--slurm-account', 'proj']
    result = run_tool('sweep', *argv)
    assert result.returncode == 0, result.output
    # One array per set of job parameters, one run per job: 1 GPU, 4 loader
    # workers and the training process, 4 GB per CPU, twice 30 updates at
    # 0.5 s plus 30 minutes.
    for job in ('4241_0  dtd shots=1 seed=1', '4241_1  dtd shots=1 seed=2',
                '4242_0  big shots=1 seed=1', '4242_1  big shots=1 seed=2'):
        assert job in result.output
    dtd, big_script = ((fake_slurm / f'sbatch_{n}.sh').read_text()
                       for n in (1, 2))
    for line in ('--array=0-1%2', '--gpus-per-node=1',
                 '--cpus-per-task=5', '--mem=20GB', '--time=31',
                 '--account=proj', '--requeue', '--signal=USR2@90',
                 '--job-name=rmt_sweep'):
        assert f'#SBATCH {line}\n' in dtd, line
    assert '--partition' not in dtd
    # The config's section changes its jobs; the flags win over both.
    for line in ('--partition=big', '--mem=64GB', '--account=proj',
                 '--requeue'):
        assert f'#SBATCH {line}\n' in big_script, line
    assert 'module load cuda' in big_script
    assert '-m submitit.core._submit' in dtd
    # Each job holds its run, planned again when it starts.
    job = DelayedSubmission.load(
        str(root / JOBS_FOLDER / '4241_1_submitted.pkl')).function
    assert isinstance(job, SweepJob)
    assert job.work_dir == run_dir(str(root), 'dtd', 1, 2)
    assert [s.kind for s in job.plan(job.work_dir).steps] == ['train',
                                                              'test']

    # The scheduler's view: --status, and a second submission sends only
    # the run whose job failed.
    (fake_slurm / 'sacct.txt').write_text(
        'JobID|State|NodeList\n4241_0|RUNNING|n1\n4241_1|PENDING|\n'
        '4242_0|FAILED|n2\n4242_1|PENDING|\n')
    (root / JOBS_FOLDER / '4242_0_0_log.out').write_text(
        'srun: error: n2: task 0: Out Of Memory\n')
    status = run_tool('sweep', *argv, '--status').output
    assert 'dtd shots=1 seed=1  running  4241_0  starting' in status
    assert 'dtd shots=1 seed=2  pending  4241_1  queued as job 4241_1' \
        in status
    assert ('big shots=1 seed=1  failed   4242_0  its job ended before the '
            'run started: srun: error: n2: task 0: Out Of Memory') in status
    assert '0 finished, 1 running, 2 pending, 1 failed' in status
    again = run_tool('sweep', *argv).output
    assert again.count('not submitted again') == 3
    assert 'Submitted 1 run(s) to slurm:\n  4243  big shots=1 seed=1' \
        in again


def test_slurm_needs_the_cluster(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))
    result = run_tool('sweep', '--configs', f'dtd={DTD}', '--shots', '1',
                      '--seeds', '1', '--work-root', str(tmp_path / 's'),
                      '--launcher', 'slurm')
    assert result.returncode == 1
    assert 'sbatch and srun, not found here' in result.output


def test_status_of_pending_running_finished_and_failed_runs(tmp_path):
    root = str(tmp_path / 'sweep')
    argv = ['--configs', f'dtd={DTD}', '--shots', '1', '2', '--seeds', '1',
            '2', '--work-root', root]
    runs, _ = sweep.plan_sweep(sweep_cli.parse_args(argv))
    by_label = {run.label: run for run in runs}
    finished = by_label['dtd shots=1 seed=1']
    for step in finished.steps:
        os.makedirs(finished.work_dir, exist_ok=True)
        with open(step.done_file, 'w') as file:
            file.write('{"accuracy/top1": 47.5}')
        sweep.record_settings(step, finished.work_dir)
    update_job_record(finished.work_dir, durations=[['train', 100.0],
                                                    ['test', 10.0]])
    # A failed run: its error is the last error line of its log.
    failed = by_label['dtd shots=1 seed=2']
    crash = Step('train', [sys.executable, '-c',
                           'print("epoch 1"); raise ValueError("bad lr")'],
                 osp.join(failed.work_dir, 'masks_final.pth'))
    assert execute_run(Run(failed.label, failed.work_dir, [crash]),
                       sweep.record_settings, dict(launcher='local'))
    running = by_label['dtd shots=2 seed=1']
    update_job_record(running.work_dir, state='running', launcher='local',
                      pid=os.getpid(), host=socket.gethostname(),
                      step='train')
    resumable = by_label['dtd shots=2 seed=2']
    os.makedirs(resumable.work_dir)
    open(osp.join(resumable.work_dir, 'epoch_3.pth'), 'wb').close()

    lines = run_tool('sweep', *argv, '--status').output.splitlines()
    assert lines[0].split() == ['run', 'state', 'job', 'detail']
    assert lines[1].startswith('dtd shots=1 seed=1  finished')
    assert lines[1].endswith('top-1 47.50')
    assert lines[2].startswith('dtd shots=1 seed=2  failed')
    assert lines[2].endswith('ValueError: bad lr')
    assert lines[3].split()[3:] == ['running', 'train']
    assert lines[4].split()[3:] == ['pending', 'resumes', 'from',
                                    'epoch_3.pth']
    # 3 runs x (train + test) at 110 s, with one run going on.
    assert lines[5] == ('4 run(s): 1 finished, 1 running, 1 pending, 1 '
                        'failed. ETA 0:05:30 (mean step: test 0:00:10 (1 '
                        'done), train 0:01:40 (1 done); 1 run(s) at once).')
    # A sweep process that is gone left its run unfinished.
    gone = subprocess.Popen([sys.executable, '-c', ''])
    gone.wait()
    update_job_record(running.work_dir, pid=gone.pid)
    line = run_tool('sweep', *argv, '--status').output.splitlines()[3]
    assert line.split()[3] == 'failed'
    assert line.endswith('stopped before it finished: no error in its log')


def test_dry_run_estimates_gpu_hours(tmp_path):
    argv = ['--configs', f'dtd={DTD}', f'imagenet={IMAGENET}', '--shots',
            '1', '16', '--seeds', '1', '--zero-shot', '--work-root',
            str(tmp_path), '--dry-run', '--launcher', 'slurm']
    out = run_tool('sweep', *argv).output
    # DTD: 47 classes, batch 32, 30 epochs; ImageNet: 1000 classes, 10.
    assert 'dtd: 2 training(s), 30-690 updates each, 0.1 GPU-hours' in out
    assert 'imagenet: 2 training(s), 310-5000 updates each, 0.7 GPU-hours' \
        in out
    assert ('Estimate: 4 training(s), 6030 optimiser updates x 0.5 s x 1 '
            'GPU(s) = 0.8 GPU-hours (training only; an assumed step time'
            in out)
    # Job arrays: the zero-shot tests, then each dataset's trainings with
    # twice its largest training's estimate plus 30 minutes.
    assert ('slurm job array of 2 run(s) (dtd, imagenet): cpus_per_task=5 '
            'gpus_per_node=1 mem_gb=20 timeout_min=30') in out
    assert ('slurm job array of 2 run(s) (dtd): cpus_per_task=5 '
            'gpus_per_node=1 mem_gb=20 timeout_min=42') in out
    assert ('slurm job array of 2 run(s) (imagenet): cpus_per_task=5 '
            'gpus_per_node=1 mem_gb=20 timeout_min=114') in out
    assert not os.listdir(tmp_path)
    measured = run_tool('sweep', *argv, '--step-seconds', '2').output
    assert '6030 optimiser updates x 2 s x 1 GPU(s) = 3.4 GPU-hours ' \
        '(training only; --step-seconds)' in measured


@pytest.mark.parametrize('argv', [['--jobs', '2', '--launcher', 'slurm'],
                                  ['--jobs', '0'], ['--status', '--dry-run'],
                                  ['--step-seconds', '0']])
def test_launcher_arguments_are_checked(argv):
    with pytest.raises(SystemExit):
        sweep_cli.parse_args(['--configs', DTD, *argv])


def test_the_miniature_table_runs_its_sweeps_with_jobs(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        'miniature_tool', osp.join(REPO, 'projects/miniature/tools/'
                                   'miniature.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    import rmt_miniature.tasks
    commands = []
    monkeypatch.setattr(rmt_miniature.tasks, 'write_task',
                        lambda *args: None)
    monkeypatch.setattr(tool, 'miniature_table', lambda *args: '')
    monkeypatch.setattr(subprocess, 'run',
                        lambda cmd, check: commands.append(cmd))
    tool.main(['table', '--work-root', str(tmp_path), '--protocols',
               'few-shot', '--jobs', '3'])
    sweeps = [cmd for cmd in commands if cmd[1].endswith('sweep.py')]
    assert len(sweeps) == 4
    assert all(cmd[cmd.index('--jobs') + 1] == '3' for cmd in sweeps)
