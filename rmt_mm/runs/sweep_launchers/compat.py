"""submitit where setuptools no longer ships ``pkg_resources``.

submitit 1.5.3 finds its executors and job environments, its own included,
with ``pkg_resources.iter_entry_points`` (``submitit/core/plugins.py``).
setuptools 82 removed ``pkg_resources`` (submitit issue 1765), and torch's
``setuptools>=77.0.3`` lets pip install such a version: then every
executor, and every job at its start, fails with ``No module named
'pkg_resources'``. :func:`patch_submitit` makes submitit find them with
``importlib.metadata`` instead. The sweep calls it before it submits, and
its jobs start through ``run_job.py`` (:data:`JOB_PYTHON`), which calls it
before submitit runs the job.
"""
import functools
import importlib.metadata
import importlib.util
import shlex
import sys
from typing import List, Tuple

from submitit.core import plugins

#: The interpreter command of the jobs: submitit appends ``-u -m
#: submitit.core._submit FOLDER``, which run_job.py reads.
JOB_PYTHON = (f'{shlex.quote(sys.executable)} -m '
              'rmt_mm.runs.sweep_launchers.run_job')


def _plugins() -> Tuple[List[type], List[object]]:
    """submitit's executors and job environments: its own, and those other
    packages declare as ``submitit`` entry points."""
    from submitit.local import debug, local
    from submitit.slurm import slurm
    executors = [slurm.SlurmExecutor, local.LocalExecutor,
                 debug.DebugExecutor]
    environments = [slurm.SlurmJobEnvironment(),
                    local.LocalJobEnvironment(),
                    debug.DebugJobEnvironment()]
    for entry in importlib.metadata.entry_points(group='submitit'):
        if entry.name == 'executor':
            executors.append(entry.load())
        elif entry.name == 'job_environment':
            environments.append(entry.load()())
    return executors, environments


def patch_submitit() -> None:
    """Lets submitit find its plugins without ``pkg_resources`` (a no-op
    where setuptools still has it)."""
    if importlib.util.find_spec('pkg_resources') is None:
        plugins._get_plugins = functools.lru_cache()(_plugins)
