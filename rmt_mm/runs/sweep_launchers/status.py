"""``--status``: where each run of a grid stands, from its folder, the jobs
submitted for it and the scheduler."""
import os
import os.path as osp
import socket
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence

import submitit
from submitit.core.utils import JobPaths

from ..experiments import metrics_path, read_metrics
from .common import (SWEEP_LOG, Run, estimate_eta, format_duration,
                     last_error_line, read_job_record, read_submissions,
                     resume_point)

#: sacct states of jobs waiting for (or between) their turns, and of
#: running ones; the others have ended.
WAITING = {'PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED',
           'SUSPENDED', 'PREEMPTED', 'CONFIGURING', 'RESIZING'}
ACTIVE = {'RUNNING', 'COMPLETING', 'STAGE_OUT', 'SIGNALING'}


@dataclass
class RunStatus:
    """Where one run of the grid stands.

    Attributes:
        state: ``'pending'``, ``'running'``, ``'finished'`` or
            ``'failed'``.
        detail: What it waits for, does, reached, or the error it ended
            with.
        job: Its latest job id, if submitted.
        active: A job is queued or running for it.
    """
    state: str
    detail: str = ''
    job: Optional[str] = None
    active: bool = False


def _alive(pid: Optional[int], host: Optional[str]) -> Optional[bool]:
    """Whether process ``pid`` of ``host`` lives; ``None`` when it runs
    elsewhere."""
    if pid is None or host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watch_slurm_jobs(jobs: Iterable[Dict[str, Any]]) -> None:
    """Registers the slurm jobs among ``jobs`` with submitit's watcher: the
    first :func:`job_state` then asks ``sacct`` about all of them at once,
    and the others read its answer."""
    for job in jobs:
        if job.get('launcher') == 'slurm' and job.get('job_id'):
            submitit.SlurmJob.watcher.register_job(job['job_id'])


def job_state(job: Dict[str, Any]) -> str:
    """``'waiting'``, ``'running'``, ``'ended'`` or ``'unknown'``: what
    slurm says of a job (``sacct``), or this machine of a local one."""
    if job.get('launcher') == 'slurm':
        state = submitit.SlurmJob.watcher.get_state(job['job_id'])
        state = (state.split() or ['UNKNOWN'])[0].upper()
        if state in WAITING:
            return 'waiting'
        if state in ACTIVE:
            return 'running'
        return 'unknown' if state == 'UNKNOWN' else 'ended'
    pid = job.get('pid')
    if pid is None and job.get('job_id'):
        pid = int(job['job_id'])  # a local job's id is its process's
    alive = _alive(pid, job.get('host'))
    return {True: 'running', False: 'ended', None: 'unknown'}[alive]


def _where_it_resumes(run: Run) -> str:
    first = run.steps[0]
    if first.kind == 'test':
        trained = 'trained; ' if run.updates else ''
        return f'{trained}{len(run.steps)} test(s) left'
    if '--resume' in first.cmd:
        return f'resumes from {resume_point(run.work_dir)}'
    return 'not started'


def _finished_detail(run: Run) -> str:
    try:
        top1 = read_metrics(metrics_path(run.work_dir)).get('accuracy/top1')
    except (OSError, ValueError):
        return ''
    return '' if top1 is None else f'top-1 {top1:.2f}'


def _job_log(job: Dict[str, Any]) -> str:
    return str(JobPaths(job['folder'], job['job_id'], 0).stdout)


def run_status(run: Run, record: Dict[str, Any],
               submission: Dict[str, Any]) -> RunStatus:
    """Where a run stands, from its plan, its job record and its latest
    submission (the scheduler is asked about submitted jobs)."""
    if run.stale:
        return RunStatus('failed', 'trained with other settings (see its '
                         'sweep_settings.json)')
    if not run.steps:
        return RunStatus('finished', _finished_detail(run),
                         record.get('job_id'))
    log = last_error_line(osp.join(run.work_dir, SWEEP_LOG))
    if submission and record.get('updated', 0) < submission['submitted']:
        # Submitted after the latest attempt: the job has not started.
        job_id = submission['job_id']
        state = job_state(submission)
        if state == 'ended':
            return RunStatus('failed', 'its job ended before the run '
                             'started: ' + last_error_line(
                                 _job_log(submission)), job_id)
        if state == 'running' and submission['launcher'] == 'slurm':
            return RunStatus('running', 'starting', job_id, True)
        return RunStatus('pending', f'queued as job {job_id}', job_id, True)
    job_id = record.get('job_id')
    state = record.get('state')
    if state in ('running', 'requeued') and (job_id or record.get('pid')):
        scheduler = job_state(record)
        if scheduler == 'ended':
            return RunStatus('failed', 'stopped before it finished: ' +
                             (log or 'no error in its log'), job_id)
        if state == 'requeued' or scheduler == 'waiting':
            return RunStatus('pending', f'requeued as job {job_id}; '
                             f'{_where_it_resumes(run)}', job_id, True)
        return RunStatus('running', record.get('step') or '', job_id, True)
    if state == 'failed':
        return RunStatus('failed', record.get('error') or log, job_id)
    detail = _where_it_resumes(run)
    if state in ('stopped', 'requeued'):
        detail = f'{"interrupted" if state == "stopped" else state}; {detail}'
    return RunStatus('pending', detail, job_id)


def grid_status(runs: Sequence[Run], work_root: str) -> List[str]:
    """The ``--status`` table of a sweep: one line per run of its grid,
    then the counts and the ETA (remaining steps at the mean duration of
    the finished steps of their kind, shared by the runs going on)."""
    submissions = read_submissions(work_root)
    records = {run.work_dir: read_job_record(run.work_dir) for run in runs}
    watch_slurm_jobs(list(submissions.values()) + list(records.values()))
    durations: Dict[str, List[float]] = {}
    rows, counts = [], {}
    remaining = []
    for run in runs:
        record = records[run.work_dir]
        for kind, seconds in record.get('durations', []):
            durations.setdefault(kind, []).append(seconds)
        status = run_status(run, record,
                            submissions.get(osp.abspath(run.work_dir), {}))
        counts[status.state] = counts.get(status.state, 0) + 1
        if status.state != 'finished' and not run.stale:
            remaining += run.steps
        rows.append((run.label, status.state, status.job or '',
                     status.detail))
    widths = [max([len(h)] + [len(r[i]) for r in rows])
              for i, h in enumerate(('run', 'state', 'job'))]
    lines = [f'{"run":<{widths[0]}}  {"state":<{widths[1]}}  '
             f'{"job":<{widths[2]}}  detail']
    lines += [f'{label:<{widths[0]}}  {state:<{widths[1]}}  '
              f'{job:<{widths[2]}}  {detail}'.rstrip()
              for label, state, job, detail in rows]
    running = counts.get('running', 0)
    eta = estimate_eta(remaining, durations)
    if not remaining:
        eta_text = 'Nothing left to do.'
    elif eta is None:
        eta_text = ('ETA ? (until a step of each kind has finished; '
                    '--dry-run estimates the GPU-hours).')
    else:
        means = ', '.join(
            f'{k} {format_duration(sum(v) / len(v))} ({len(v)} done)'
            for k, v in sorted(durations.items()))
        eta_text = (f'ETA {format_duration(eta / max(1, running))} (mean '
                    f'step: {means}; {max(1, running)} run(s) at once).')
    counted = ', '.join(f'{counts.get(state, 0)} {state}' for state in
                        ('finished', 'running', 'pending', 'failed'))
    lines.append(f'{len(runs)} run(s): {counted}. {eta_text}')
    return lines
