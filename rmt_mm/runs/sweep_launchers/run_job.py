"""Runs one submitit job of a sweep: ``python -m
rmt_mm.runs.sweep_launchers.run_job -u -m submitit.core._submit FOLDER``
(:data:`~.compat.JOB_PYTHON` and what submitit appends to it), as submitit's
own ``python -u -m submitit.core._submit FOLDER`` does, with submitit
patched first (:func:`~.compat.patch_submitit`)."""
import sys

from submitit.core.submission import process_job

from .compat import patch_submitit

if __name__ == '__main__':
    if sys.argv[-2:-1] != ['submitit.core._submit']:
        sys.exit(f'usage: {sys.argv[0]} -u -m submitit.core._submit FOLDER')
    patch_submitit()
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    process_job(sys.argv[-1])
