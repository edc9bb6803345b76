"""What the launchers share: the steps and runs a sweep plans, running a
run's steps, and the records a run folder and a sweep root keep of its
attempts and jobs."""
import os
import os.path as osp
import re
import shlex
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import (IO, Any, Callable, Dict, List, Optional, Sequence, Set,
                    Tuple)

from ...fileio.safe_load import FileRefusedError
from ...fileio.side_files import read_json, write_json
from ..experiments import read_metrics
from ..work_dir import list_checkpoints

SWEEP_LOG = 'sweep.log'
#: The latest attempt at a run, in its folder.
JOB_FILE = 'sweep_job.json'
#: Folder of submitit's files below the sweep root, and the list of the
#: jobs submitted from that root in it.
JOBS_FOLDER = 'submitit'
JOBS_FILE = 'jobs.json'
_ERROR_LINE = re.compile(r'(Error|Exception|error:|Killed|Traceback)')


@dataclass
class Step:
    """One command of a run.

    Attributes:
        kind: ``'train'`` or ``'test'``.
        cmd: The command line.
        done_file: Exists once the step succeeded.
        out_file: The command's ``--out``, renamed to ``done_file`` on
            success so that a killed test leaves no metrics file behind.
    """
    kind: str
    cmd: List[str]
    done_file: str
    out_file: Optional[str] = None


@dataclass
class Run:
    """The steps of one training run (or of one dataset's zero-shot
    tests) that are still to do.

    Attributes:
        label: Name in progress lines and tables.
        work_dir: The run folder.
        steps: The missing steps, in order; none once the run finished.
        experiment: The dataset (after its method, if not R-AMT) it
            belongs to.
        updates: Optimiser updates of its whole training; 0 without one.
        job: Parameters of its submitit job (``AutoExecutor``'s).
        stale: Its folder holds a training made with other settings.
    """
    label: str
    work_dir: str
    steps: List[Step]
    experiment: str = ''
    updates: int = 0
    job: Dict[str, Any] = field(default_factory=dict)
    stale: bool = False

    @property
    def trains(self) -> bool:
        return any(step.kind == 'train' for step in self.steps)


#: Notes the settings of a step that succeeded (sweep.record_settings).
Recorder = Callable[[Step, str], None]
#: Plans the run of a folder again (a partial of sweep.replan_run).
Planner = Callable[[str], Run]


def format_duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return '?'
    seconds = int(round(seconds))
    return f'{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}'


def estimate_eta(remaining: Sequence[Step],
                 durations: Dict[str, List[float]]) -> Optional[float]:
    """Seconds left: each remaining step at the mean duration of finished
    steps of its kind; ``None`` while a kind has no finished step yet."""
    total = 0.0
    for step in remaining:
        done = durations.get(step.kind)
        if not done:
            return None
        total += sum(done) / len(done)
    return total


def output_problem(step: Step) -> Optional[str]:
    """Why the existing output of a test does not count as its result
    (empty, not JSON, a non-finite metric), or ``None``."""
    if step.kind != 'test':
        return None
    try:
        read_metrics(step.done_file)
    except ValueError as error:
        return str(error)
    return None


def tail(path: str, lines: int = 20) -> str:
    with open(path, errors='replace') as f:
        return ''.join(f.readlines()[-lines:])


def last_error_line(path: str) -> str:
    """The last line of a log that reads like an error (an exception,
    ``error:``, ``Killed``), else its last line; ``''`` without one."""
    if not osp.isfile(path):
        return ''
    lines = [line.strip() for line in tail(path, 200).splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if _ERROR_LINE.search(line)]
    return (errors or lines or [''])[-1]


def read_job_record(work_dir: str) -> Dict[str, Any]:
    """The latest attempt at the run of ``work_dir`` (:data:`JOB_FILE`);
    empty when there was none, or when the file is damaged (it only informs
    ``--status``, and the next attempt writes it anew)."""
    path = osp.join(work_dir, JOB_FILE)
    if not osp.isfile(path):
        return {}
    try:
        return read_json(path, '')
    except FileRefusedError:
        return {}


def update_job_record(work_dir: str, **changes: Any) -> None:
    """Changes entries of the run's :data:`JOB_FILE` and notes the time."""
    record = read_job_record(work_dir)
    record.update(changes, updated=time.time())
    os.makedirs(work_dir, exist_ok=True)
    write_json(osp.join(work_dir, JOB_FILE), record)


def jobs_folder(work_root: str) -> str:
    """submitit's folder of a sweep root (absolute: jobs run anywhere)."""
    return osp.abspath(osp.join(work_root, JOBS_FOLDER))


def read_submissions(work_root: str) -> Dict[str, Dict[str, Any]]:
    """``{absolute run folder: its latest job}`` of a sweep root."""
    path = osp.join(jobs_folder(work_root), JOBS_FILE)
    if not osp.isfile(path):
        return {}
    return read_json(path, 'Delete it: --status then shows submitted runs '
                     'as pending until their jobs start.')


def write_submissions(work_root: str,
                      submissions: Dict[str, Dict[str, Any]]) -> None:
    write_json(osp.join(jobs_folder(work_root), JOBS_FILE), submissions)


def start_command(cmd: List[str], log: IO[str],
                  env: Optional[Dict[str, str]] = None,
                  preexec_fn: Optional[Callable[[], None]] = None
                  ) -> subprocess.Popen:
    """Starts a step's command, its output (stdout and stderr) into
    ``log``."""
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            env=env, preexec_fn=preexec_fn)


def run_step(step: Step, log_file: str,
             env: Optional[Dict[str, str]] = None,
             live: Optional[Set[subprocess.Popen]] = None,
             preexec_fn: Optional[Callable[[], None]] = None
             ) -> Optional[str]:
    """Runs one command with its output appended to ``log_file``.

    Args:
        step: The step.
        log_file: The run's log.
        env: The command's environment; default: this process's.
        live: Holds the command while it runs, so that another thread can
            end it.
        preexec_fn: Called in the child before the command starts.

    Returns:
        ``None`` when it succeeded, else why it failed.
    """
    os.makedirs(osp.dirname(log_file), exist_ok=True)
    live = set() if live is None else live
    with open(log_file, 'a') as log:
        log.write(f'\n$ {shlex.join(step.cmd)}\n')
        log.flush()
        process = start_command(step.cmd, log, env, preexec_fn)
        live.add(process)
        try:
            code = process.wait()
        except BaseException:
            # Interrupted (Ctrl-C, a scheduler's signal): end the command.
            process.kill()
            process.wait()
            raise
        finally:
            live.discard(process)
    if code != 0:
        return last_error_line(log_file) or f'exit code {code}'
    if step.out_file is not None and osp.isfile(step.out_file):
        os.replace(step.out_file, step.done_file)
    # A command that succeeds without its output (final masks, metrics), or
    # with a damaged one, has failed rather than leaving a run silently
    # unfinished.
    if not osp.isfile(step.done_file):
        return f'the command ended without writing {step.done_file}'
    return output_problem(step)


def execute_run(run: Run, record: Recorder, attempt: Dict[str, Any],
                env: Optional[Dict[str, str]] = None,
                live: Optional[Set[subprocess.Popen]] = None,
                preexec_fn: Optional[Callable[[], None]] = None,
                on_step: Optional[Callable[[str, float], None]] = None
                ) -> Optional[Tuple[Step, str]]:
    """Runs the steps of one run in order, keeping its job record.

    Args:
        run: The run.
        record: Notes the settings of each step that succeeds.
        attempt: What the job record says of this attempt (launcher, job
            id); host, process and state are added.
        env, live, preexec_fn: As for :func:`run_step`.
        on_step: Told the kind and seconds of each step that succeeds.

    Returns:
        ``None`` when every step succeeded, else the failed step and why.
    """
    update_job_record(run.work_dir, **attempt, state='running',
                      host=socket.gethostname(), pid=os.getpid(),
                      started=time.time(), error=None)
    log_file = osp.join(run.work_dir, SWEEP_LOG)
    for step in run.steps:
        update_job_record(run.work_dir, step=step.kind)
        began = time.time()
        try:
            failure = run_step(step, log_file, env, live, preexec_fn)
        except KeyboardInterrupt:
            update_job_record(run.work_dir, state='stopped')
            raise
        if failure is not None:
            update_job_record(run.work_dir, state='failed', error=failure)
            return step, failure
        record(step, run.work_dir)
        seconds = time.time() - began
        done = read_job_record(run.work_dir).get('durations', [])
        update_job_record(run.work_dir,
                          durations=done + [[step.kind, seconds]])
        if on_step is not None:
            on_step(step.kind, seconds)
    update_job_record(run.work_dir, state='finished', step=None)
    return None


def resume_point(work_dir: str) -> str:
    """The newest checkpoint of a run folder (its training resumes from
    it, or from the newest intact one before it)."""
    newest = list_checkpoints(work_dir)
    return osp.basename(newest[0]) if newest else '?'


def describe(run: Run) -> str:
    """What a run does next: ``train (resume from epoch_3.pth), test``."""
    if not run.steps:
        return 'nothing (finished)'
    return ', '.join(
        f'train (resume from {resume_point(run.work_dir)})'
        if '--resume' in step.cmd else step.kind for step in run.steps)
