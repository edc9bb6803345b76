"""``--launcher local``: the runs on this machine, one after another or
``--jobs N`` at once."""
import os
import os.path as osp
import shlex
import socket
import subprocess
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import torch

from .common import (SWEEP_LOG, Recorder, Run, Step, estimate_eta, execute_run,
                     format_duration, tail, update_job_record)


def visible_gpus() -> List[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` names
    them."""
    count = torch.cuda.device_count()
    listed = os.environ.get('CUDA_VISIBLE_DEVICES')
    if listed:
        return listed.split(',')[:count]
    return [str(index) for index in range(count)]


def free_port() -> int:
    """A TCP port free now (for a training's torchrun)."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def lanes(jobs: int, gpus: int) -> List[Tuple[Dict[str, str], str]]:
    """The environment of each of ``jobs`` runs at once and where it runs.

    With GPUs, each run gets ``gpus`` of them; without, each gets its share
    of the CPU threads. Runs of several processes get their own torchrun
    port.

    Raises:
        ValueError: If there are GPUs, but fewer than ``jobs * gpus``.
    """
    devices = visible_gpus()
    if devices and jobs * gpus > len(devices):
        raise ValueError(
            f'--jobs {jobs} with --gpus {gpus} needs {jobs * gpus} GPUs; '
            f'{len(devices)} are visible.')
    threads = max(1, len(os.sched_getaffinity(0)) // jobs)
    found = []
    for lane in range(jobs):
        env = dict(os.environ)
        if devices:
            mine = devices[lane * gpus:(lane + 1) * gpus]
            env['CUDA_VISIBLE_DEVICES'] = ','.join(mine)
            where = f'GPU {",".join(mine)}'
        else:
            env['OMP_NUM_THREADS'] = str(threads)
            where = f'{threads} CPU thread(s)'
        if gpus > 1:
            env['PORT'] = str(free_port())
        found.append((env, where))
    return found


class Progress:
    """The progress lines of a sweep on this machine, shared by the runs
    going on at once."""

    def __init__(self, runs: Sequence[Run], at_once: int) -> None:
        self.runs = runs
        self.at_once = at_once
        self.start = time.time()
        self.durations: Dict[str, List[float]] = {}
        self.failed: List[str] = []
        self.started = 0
        self.lock = threading.Lock()

    def begin(self, run: Run, where: str = '') -> None:
        with self.lock:
            self.started += 1
            remaining = [step for r in self.runs[self.started - 1:]
                         for step in r.steps]
            eta = estimate_eta(remaining, self.durations)
            if eta is not None:
                eta /= self.at_once
            kinds = ', '.join(
                'train (resume)' if '--resume' in s.cmd else s.kind
                for s in run.steps)
            where = f' on {where}' if where else ''
            elapsed = format_duration(time.time() - self.start)
            print(f'[{self.started}/{len(self.runs)}] {run.label}: {kinds}'
                  f'{where}  (elapsed {elapsed}, ETA '
                  f'{format_duration(eta)})', flush=True)

    def step_done(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.durations.setdefault(kind, []).append(seconds)

    def fail(self, run: Run, step: Step) -> None:
        log_file = osp.join(run.work_dir, SWEEP_LOG)
        with self.lock:
            self.failed.append(run.label)
            print(f'    FAILED: {shlex.join(step.cmd)}\n    log: '
                  f'{log_file}\n{tail(log_file)}', flush=True)

    def summary(self) -> None:
        print(f'Sweep done in {format_duration(time.time() - self.start)}: '
              f'{self.started - len(self.failed)} run(s) finished, '
              f'{len(self.failed)} failed.')


def execute_local(runs: Sequence[Run], record: Recorder, fail_fast: bool,
                  jobs: int = 1, gpus: int = 1) -> List[str]:
    """Runs the plan on this machine, ``jobs`` runs at a time, printing
    progress; returns the labels of the failed runs.

    One run at a time runs in this thread with this process's environment;
    more run in threads, each with the environment of its lane
    (:func:`lanes`). An interrupt ends every running command.
    """
    progress = Progress(runs, jobs)
    attempt = dict(launcher='local', job_id=None)

    def one(run: Run, env: Optional[Dict[str, str]], where: str,
            live: Set[subprocess.Popen]) -> bool:
        progress.begin(run, where)
        failure = execute_run(run, record, attempt, env, live,
                              on_step=progress.step_done)
        if failure is not None:
            progress.fail(run, failure[0])
        return failure is None

    if jobs == 1:
        for run in runs:
            if not one(run, None, '', set()) and fail_fast:
                break
    else:
        _run_in_lanes(runs, lanes(jobs, gpus), one, fail_fast)
    progress.summary()
    return progress.failed


def _run_in_lanes(runs: Sequence[Run],
                  environments: List[Tuple[Dict[str, str], str]],
                  one: Callable[..., bool], fail_fast: bool) -> None:
    """Runs ``one(run, env, where, live)`` for every run, one thread per
    lane taking the next run when its last one ends. An interrupt ends the
    running commands; their runs count as stopped, not failed."""
    todo = list(reversed(runs))
    live: Set[subprocess.Popen] = set()
    going: Set[str] = set()
    stop = threading.Event()
    lock = threading.Lock()

    def lane(env: Dict[str, str], where: str) -> None:
        while not stop.is_set():
            with lock:
                if not todo:
                    return
                run = todo.pop()
                going.add(run.work_dir)
            succeeded = one(run, env, where, live)
            with lock:
                going.discard(run.work_dir)
            if not succeeded and fail_fast:
                stop.set()

    threads = [threading.Thread(target=lane, args=pair, daemon=True)
               for pair in environments]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except KeyboardInterrupt:
        stop.set()
        with lock:
            stopped = set(going)
        for process in list(live):
            process.kill()
        for thread in threads:
            thread.join()
        for work_dir in stopped:
            update_job_record(work_dir, state='stopped')
        raise
