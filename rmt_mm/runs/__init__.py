"""Run policy and plumbing, the top layer: the paper's experiment tables,
recipes (shots, seed, lambda, low-shot), launch arguments, config reading,
work-dir handling, one-line refusals, and the logic of the train, test,
infer, sweep, results, benchmark and demo tools."""
from .refusals import refuse_bad_files

__all__ = ['refuse_bad_files']
