"""How the runs of a sweep are carried out, and where each run stands.

``rmt_mm/runs/sweep.py`` plans the runs (what to run, what is finished,
what resumes); this package runs them:

- ``--launcher local`` (``local.py``): one run after another on this
  machine, or ``--jobs N`` runs at once, each pinned to its own GPUs
  (``CUDA_VISIBLE_DEVICES``) or, without GPUs, to its share of the CPU
  threads (``OMP_NUM_THREADS``).
- ``--launcher slurm`` (``jobs.py``): one submitit job per run (a job
  array per set of job parameters), submitted and left to the scheduler.
  ``--launcher submitit-local`` submits the same jobs to submitit's local
  executor on this machine (all at once) and waits for them: the code path
  of a cluster, without one.

A job plans its run again when it starts (a finished run is skipped, an
interrupted training resumes from its newest intact checkpoint, the
settings recorded in the run folder are checked) and when the scheduler
preempts it or its time runs out (:class:`SweepJob` is a submitit
``Checkpointable``): submitit then requeues it, and it resumes.

Every run folder keeps the latest attempt in ``sweep_job.json`` (state,
job id, host, process, step durations, the error of a failed step); the
jobs submitted from a sweep root are listed in
``<work-root>/submitit/jobs.json``, beside submitit's own files and logs.
``--status`` (``status.py``) reads both, and asks the scheduler about
submitted jobs. ``compat.py`` lets submitit 1.5.3 work without setuptools'
``pkg_resources``.
"""
from .common import (JOB_FILE, JOBS_FILE, JOBS_FOLDER, Run, Step, estimate_eta,
                     execute_run, format_duration, output_problem,
                     read_job_record, update_job_record)
from .jobs import (ASSUMED_STEP_SECONDS, SweepJob, default_job,
                   describe_groups, estimate, job_parameters, submit)
from .local import execute_local, lanes
from .status import grid_status

LAUNCHERS = ('local', 'slurm', 'submitit-local')

__all__ = [
    'ASSUMED_STEP_SECONDS', 'JOB_FILE', 'JOBS_FILE', 'JOBS_FOLDER',
    'LAUNCHERS', 'Run', 'Step', 'SweepJob', 'default_job', 'describe_groups',
    'estimate', 'estimate_eta', 'execute_local', 'execute_run',
    'format_duration', 'grid_status', 'job_parameters', 'lanes',
    'output_problem', 'read_job_record', 'submit', 'update_job_record'
]
