"""``--launcher slurm`` and ``submitit-local``: one submitit job per run,
job arrays of runs with the same job parameters, and the cost of a
sweep's trainings."""
import os
import os.path as osp
import signal
import socket
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import submitit
from submitit.helpers import Checkpointable, DelayedSubmission

from .common import (SWEEP_LOG, Planner, Recorder, Run, describe, execute_run,
                     jobs_folder, read_job_record, read_submissions,
                     update_job_record, write_submissions)
from .compat import JOB_PYTHON, patch_submitit
from .local import free_port, visible_gpus
from .status import run_status, watch_slurm_jobs

#: submitit's cluster of each job launcher.
CLUSTERS = {'slurm': 'slurm', 'submitit-local': 'local'}
#: Assumed seconds per optimiser update of R-AMT on CLIP ViT-B/16 (global
#: batch 32, fp32, one A100-class GPU): about four and a half forward
#: passes of the image encoder. An assumption, not a measurement: measure
#: yours with ``python tools/benchmark.py --device cuda --batch-size 32``
#: (its ``rmt_step_s``) and pass it as ``--step-seconds``.
ASSUMED_STEP_SECONDS = 0.5
#: A job's time limit: this many times its training's estimate, plus
#: :data:`JOB_MINUTES` for start-up and the tests.
TIME_FACTOR = 2.0
JOB_MINUTES = 30
#: Memory of a job per CPU it asks for.
GB_PER_CPU = 4
#: Job parameters every slurm job gets, beside those of the run.
SLURM_PARAMETERS = dict(
    name='rmt_sweep',
    stderr_to_stdout=True,
    # Preempted jobs go back to the queue (submitit requeues timed-out
    # ones itself, at the signal it asks for before the limit).
    slurm_additional_parameters=dict(requeue=True))


def _ignore_preemption() -> None:
    """In a job's commands: leave the scheduler's warning signal to the
    job, which requeues itself and ends them."""
    signal.signal(submitit.JobEnvironment._usr_sig(), signal.SIG_IGN)


def _job_id() -> Optional[str]:
    """The id of the submitit job this process runs, if it runs one."""
    patch_submitit()
    try:
        return submitit.JobEnvironment().job_id
    except RuntimeError:
        return None


class SweepJob(Checkpointable):
    """One run of a sweep as a submitit job: its training, then its tests.

    The run is planned again when the job starts, so that the rules of a
    local sweep hold per job (a finished run is skipped, an interrupted
    training resumes from its newest intact checkpoint, the settings
    recorded in the folder are checked). When the scheduler preempts the
    job or its time runs out, submitit calls :meth:`checkpoint` and
    requeues what it returns: a job that resumes the run.

    Args:
        label: The run's name.
        work_dir: The run folder.
        plan: Plans the run of a folder again (picklable).
        record: Notes the settings of a step that succeeded (picklable).
        launcher: ``'slurm'`` or ``'submitit-local'``.
        cwd: The folder relative paths start from; default: the current.
        gpus: Training processes of the run (torchrun gets a free port
            when more than one).
    """

    def __init__(self, label: str, work_dir: str, plan: Planner,
                 record: Recorder, launcher: str, cwd: Optional[str] = None,
                 gpus: int = 1) -> None:
        self.label = label
        self.work_dir = work_dir
        self.plan = plan
        self.record = record
        self.launcher = launcher
        self.cwd = cwd or os.getcwd()
        self.gpus = gpus

    def __call__(self) -> str:
        """Runs the missing steps of the run; returns ``'finished'``.

        Raises:
            RuntimeError: If a step fails (the job then fails).
        """
        os.chdir(self.cwd)
        run = self.plan(self.work_dir)
        if not run.steps:
            print(f'{self.label}: finished already.', flush=True)
            return 'finished'
        print(f'{self.label}: {describe(run)}', flush=True)
        env = dict(os.environ, PORT=str(free_port())) \
            if self.gpus > 1 else None
        failure = execute_run(
            run, self.record,
            dict(launcher=self.launcher, job_id=_job_id(),
                 folder=os.environ.get('SUBMITIT_FOLDER')),
            env, preexec_fn=_ignore_preemption)
        if failure is not None:
            raise RuntimeError(f'{self.label} failed: {failure[1]} (log: '
                               f'{osp.join(self.work_dir, SWEEP_LOG)})')
        print(f'{self.label}: finished.', flush=True)
        return 'finished'

    def checkpoint(self) -> DelayedSubmission:
        """Plans the run again for the job submitit requeues: it resumes
        from the newest intact checkpoint then."""
        os.chdir(self.cwd)
        run = self.plan(self.work_dir)
        print(f'{self.label}: requeued; next: {describe(run)}', flush=True)
        update_job_record(self.work_dir, state='requeued')
        return DelayedSubmission(
            SweepJob(self.label, self.work_dir, self.plan, self.record,
                     self.launcher, self.cwd, self.gpus))


def job_parameters(defaults: Dict[str, Any], section: Dict[str, Any],
                   flags: Dict[str, Any]) -> Dict[str, Any]:
    """A run's submitit job parameters.

    Args:
        defaults: Those derived from its dataset (:func:`default_job`).
        section: The config's ``slurm`` section: submitit
            ``AutoExecutor`` parameters (``timeout_min``, ``mem_gb``,
            ``cpus_per_task``, ``gpus_per_node``, ...) and slurm's own
            (``partition``, ``account``, ``qos``, ``setup``, ...; with or
            without submitit's ``slurm_`` prefix).
        flags: The command line's, without the unset ones; they win.

    Returns:
        ``AutoExecutor.update_parameters`` arguments.
    """
    generic = submitit.AutoExecutor._valid_parameters()
    found = dict(defaults)
    for key, value in list(section.items()) + list(flags.items()):
        if key not in generic and not key.startswith('slurm_'):
            key = f'slurm_{key}'
        found[key] = value
    extra = dict(SLURM_PARAMETERS['slurm_additional_parameters'])
    extra.update(found.get('slurm_additional_parameters') or {})
    params = dict(SLURM_PARAMETERS)
    params.update(found, slurm_additional_parameters=extra)
    return params


def default_job(gpus: int, workers: int, updates: int,
                step_seconds: float) -> Dict[str, Any]:
    """Job parameters from a run's dataset: ``gpus`` GPUs, a CPU per data
    loader worker and one per training process, :data:`GB_PER_CPU` of
    memory per CPU, and :data:`TIME_FACTOR` times the estimated training
    time plus :data:`JOB_MINUTES`."""
    cpus = gpus * (workers + 1)
    minutes = TIME_FACTOR * updates * step_seconds / 60 + JOB_MINUTES
    return dict(gpus_per_node=gpus, cpus_per_task=cpus,
                mem_gb=GB_PER_CPU * cpus, timeout_min=int(-(-minutes // 1)))


def _group(runs: Sequence[Run]) -> List[Tuple[Dict[str, Any], List[Run]]]:
    """Runs with the same job parameters, in plan order: one job array
    each."""
    groups: Dict[str, Tuple[Dict[str, Any], List[Run]]] = {}
    for run in runs:
        key = repr(sorted(run.job.items()))
        groups.setdefault(key, (run.job, []))[1].append(run)
    return list(groups.values())


def describe_groups(runs: Sequence[Run]) -> List[str]:
    """One line per job array the runs would be submitted as."""
    lines = []
    for params, group in _group(runs):
        names = ', '.join(dict.fromkeys(run.experiment for run in group))
        shown = ' '.join(f'{k.replace("slurm_", "")}={v}'
                         for k, v in sorted(params.items())
                         if k not in SLURM_PARAMETERS)
        lines.append(f'job array of {len(group)} run(s) ({names}): {shown}')
    return lines


def _executor(launcher: str, folder: str,
              params: Dict[str, Any]) -> submitit.AutoExecutor:
    """submitit's executor for one job array.

    Raises:
        ValueError: If submitit refuses a parameter (a config's slurm
            section names one it does not know).
    """
    patch_submitit()
    executor = submitit.AutoExecutor(folder=folder,
                                     cluster=CLUSTERS[launcher],
                                     slurm_python=JOB_PYTHON,
                                     local_python=JOB_PYTHON)
    if launcher == 'submitit-local':
        params = dict(params, gpus_per_node=min(params['gpus_per_node'],
                                                len(visible_gpus())))
    try:
        executor.update_parameters(**params)
    except (NameError, ValueError) as error:
        raise ValueError(
            f'submitit refuses the job parameters {params} (defaults, a '
            f"config's slurm section, --slurm-* flags): {error}") from None
    return executor


def submit(runs: Sequence[Run], launcher: str, work_root: str,
           plan: Planner, record: Recorder, gpus: int = 1) -> int:
    """Submits every run that has no job queued or running as a submitit
    job, one job array per set of job parameters, and prints the job ids.
    ``submitit-local`` then waits for its jobs (they run on this machine).

    Returns:
        The exit code: 1 if a job of ``submitit-local`` failed.
    """
    folder = jobs_folder(work_root)
    os.makedirs(folder, exist_ok=True)
    submissions = read_submissions(work_root)
    records = {run.work_dir: read_job_record(run.work_dir) for run in runs}
    watch_slurm_jobs(list(submissions.values()) + list(records.values()))
    todo = []
    for run in runs:
        key = osp.abspath(run.work_dir)
        status = run_status(run, records[run.work_dir],
                            submissions.get(key, {}))
        if status.active:
            print(f'{run.label}: {status.state} ({status.detail}); not '
                  'submitted again.')
        else:
            todo.append(run)
    jobs = []
    for params, group in _group(todo):
        executor = _executor(launcher, folder, params)
        # Before the jobs start: a job's own record is newer.
        submitted = time.time()
        with executor.batch():
            group_jobs = [executor.submit(SweepJob(
                run.label, run.work_dir, plan, record, launcher, gpus=gpus))
                for run in group]
        print(f'Submitted {len(group)} run(s) to {launcher}:')
        for run, job in zip(group, group_jobs):
            submissions[osp.abspath(run.work_dir)] = dict(
                launcher=launcher, job_id=job.job_id, folder=folder,
                host=socket.gethostname(), submitted=submitted)
            print(f'  {job.job_id}  {run.label}')
        write_submissions(work_root, submissions)
        jobs += zip(group, group_jobs)
    if launcher != 'submitit-local':
        print('Follow them with the same command and --status.')
        return 0
    return _wait(jobs)


def _wait(jobs: Sequence[Tuple[Run, submitit.Job]]) -> int:
    """Waits for local jobs and reports the failed ones; the exit code.
    An interrupt cancels the jobs."""
    failed = []
    try:
        for run, job in jobs:
            try:
                job.result()
            except Exception as error:  # the job's error, as submitit says
                lines = [line for line in str(error).splitlines() if line]
                failed.append(f'{run.label} (job {job.job_id}: '
                              f'{lines[-1] if lines else error})')
    except KeyboardInterrupt:
        for _, job in jobs:
            job.cancel(check=False)
        print('\nInterrupted; the jobs were cancelled. Run the same command '
              'again to continue.')
        return 130
    print(f'{len(jobs) - len(failed)} job(s) finished, {len(failed)} '
          'failed.')
    if failed:
        print('Failed: ' + '; '.join(failed))
    return 1 if failed else 0


def estimate(runs: Sequence[Run], step_seconds: float,
             gpus: int = 1) -> List[str]:
    """What the trainings of ``runs`` cost: optimiser updates per dataset
    and GPU-hours at ``step_seconds`` per update (training only)."""
    per: Dict[str, List[int]] = {}
    for run in runs:
        if run.trains:
            per.setdefault(run.experiment, []).append(run.updates)
    total = sum(sum(updates) for updates in per.values())

    def hours(updates: int) -> float:
        return updates * step_seconds * gpus / 3600

    lines = []
    for name, updates in per.items():
        each = sorted({min(updates), max(updates)})
        lines.append(f'{name}: {len(updates)} training(s), '
                     f'{"-".join(map(str, each))} updates each, '
                     f'{hours(sum(updates)):.1f} GPU-hours')
    step = ('an assumed step time: measure yours with python '
            'tools/benchmark.py --device cuda --batch-size 32 and give its '
            'rmt_step_s as --step-seconds'
            if step_seconds == ASSUMED_STEP_SECONDS else '--step-seconds')
    lines.append(
        f'Estimate: {sum(map(len, per.values()))} training(s), {total} '
        f'optimiser updates x {step_seconds:g} s x {gpus} GPU(s) = '
        f'{hours(total):.1f} GPU-hours (training only; {step}).')
    return lines
