"""The metrics files of a sweep folder: one record per readable file (R-AMT's
and the other methods'), and the seeds asked for in each cell."""
import math
import os
import os.path as osp
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

from ..experiments import (BASE_TO_NEW_DIR, METHODS, ZERO_SHOT_DIR,
                           method_root, read_metrics)

RUN_PATTERN = re.compile(r'^shots_(\d+)$')
SEED_PATTERN = re.compile(r'^seed_(\d+)$')
METRICS_PATTERN = re.compile(r'^metrics(?:_(\w+?))?\.json$')


@dataclass(frozen=True)
class Record:
    """One metrics file of the sweep.

    Attributes:
        dataset: Dataset folder name.
        base_to_new: Whether it belongs to the base-to-new protocol.
        shots: Shots per class; 0 for zero-shot CLIP.
        seed: The run's seed; ``None`` for zero-shot CLIP.
        target: Test set: ``None`` (the dataset's own), ``'base'``,
            ``'new'`` or an ImageNet variant.
        value: The metric.
        method: Key of ``METHODS`` (``'rmt'``; zero-shot CLIP is ``'rmt'``
            with shots 0).
    """
    dataset: str
    base_to_new: bool
    shots: int
    seed: Optional[int]
    target: Optional[str]
    value: float
    method: str = 'rmt'


#: ``(method, dataset, base_to_new, shots) -> seeds asked for``.
Asked = Dict[Tuple[str, str, bool, int], int]


def read_metric(path: str, metric: str) -> Optional[float]:
    """The metric of one JSON file, or ``None`` (with a warning) when the
    file cannot be read, lacks it or it is not finite."""
    try:
        value = float(read_metrics(path)[metric])
    except (OSError, ValueError, KeyError, TypeError) as error:
        warnings.warn(f'Skipping {path}: {error!r}')
        return None
    if not math.isfinite(value):
        warnings.warn(f'Skipping {path}: {metric} is {value}')
        return None
    return value


def _metrics_files(folder: str) -> List[Tuple[Optional[str], str]]:
    """``(target, path)`` of the metrics files directly in ``folder``."""
    found = []
    for name in sorted(os.listdir(folder)):
        match = METRICS_PATTERN.match(name)
        if match:
            found.append((match.group(1), osp.join(folder, name)))
    return found


def method_folders(root: str) -> Iterator[Tuple[str, str]]:
    """``(method, folder)`` of R-AMT's sweep folder (the root) and of the
    other methods' (``<root>/<method>/``) that exist."""
    yield 'rmt', root
    for method in METHODS:
        folder = method_root(root, method)
        if folder != root and osp.isdir(folder):
            yield method, folder


def scan(root: str, metric: str = 'accuracy/top1') -> List[Record]:
    """Every readable metrics file below a sweep root, R-AMT's and those of
    the other methods."""
    return [record for method, folder in method_folders(root)
            for record in scan_method(folder, method, metric)]


def asked_seeds(root: str, seeds: int = 0) -> Asked:
    """Seeds asked for in each cell: its seed folders (a run that failed
    or whose metrics are unreadable has one), or ``seeds`` when more."""
    counts = Counter(
        (method, dataset, base_to_new, shots)
        for method, folder in method_folders(root)
        for dataset, base_to_new, shots, seed, _ in run_folders(folder)
        if seed is not None)
    return {key: max(count, seeds) for key, count in counts.items()}


def scan_method(root: str, method: str,
                metric: str = 'accuracy/top1') -> List[Record]:
    """The metrics files of one method's sweep folder."""
    records = []
    for dataset, base_to_new, shots, seed, run in run_folders(root):
        for target, path in _metrics_files(run):
            value = read_metric(path, metric)
            if value is not None:
                records.append(Record(dataset, base_to_new, shots, seed,
                                      target, value, method))
    return records


def run_folders(root: str) -> Iterator[
        Tuple[str, bool, int, Optional[int], str]]:
    """``(dataset, base_to_new, shots, seed, folder)`` of the zero-shot
    folders (shots 0, seed ``None``) and run folders of one method's sweep
    folder."""
    for dataset in sorted(os.listdir(root)):
        if dataset in METHODS:
            continue
        for base_to_new in (False, True):
            folder = osp.join(root, dataset,
                              *([BASE_TO_NEW_DIR] if base_to_new else []))
            if not osp.isdir(folder):
                continue
            runs = [(0, None, osp.join(folder, ZERO_SHOT_DIR))]
            for shots_dir in os.listdir(folder):
                shots = RUN_PATTERN.match(shots_dir)
                if not shots:
                    continue
                for seed_dir in os.listdir(osp.join(folder, shots_dir)):
                    seed = SEED_PATTERN.match(seed_dir)
                    if seed:
                        runs.append((int(shots.group(1)), int(seed.group(1)),
                                     osp.join(folder, shots_dir, seed_dir)))
            for shots, seed, run in runs:
                if osp.isdir(run):
                    yield dataset, base_to_new, shots, seed, run
