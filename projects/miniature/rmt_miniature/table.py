"""The paper's table in miniature: its protocols (runs of tools/sweep.py)
and the markdown tables read back from their folders."""
import json
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

# (sub-folder of the work root, shots, tools/sweep.py flags) of each
# protocol; lambda follows the paper's rule unless given (1.0 below 16 shots
# and in base-to-new, 0.3 at 16 shots). 16 shots train on the paper's
# recipe, fewer on the low-shot recipe (tools/train.py --shots).
PROTOCOLS = {
    'few-shot': (
        ('rmt', 16, ['--zero-shot']),
        ('rmt', 4, []),
        ('rmt', 1, []),
        ('amt', 16, ['--lam', '0']),
    ),
    'base-to-new': (
        ('rmt', 16, ['--base-to-new', '--zero-shot']),
        ('amt', 16, ['--base-to-new', '--lam', '0']),
    ),
}


def mean_std(values: Sequence[float], expected: int = 0) -> str:
    """``'mean ± std'`` (population std over seeds), ``'-'`` if empty,
    ``(n=N)`` added when fewer than ``expected`` values."""
    if not values:
        return '-'
    text = f'{np.mean(values):.2f} ± {np.std(values):.2f}'
    return text + (f' (n={len(values)})' if len(values) < expected else '')


def read_metric(path: str) -> Optional[float]:
    if not osp.isfile(path):
        return None
    with open(path) as file:
        return json.load(file)['accuracy/top1']


def sparsity(folder: str) -> Optional[float]:
    """Percent of masked entries switched off in a run's final masks."""
    from rmt_mm.fileio import load_mask_file
    path = osp.join(folder, 'masks_final.pth')
    return 100 * load_mask_file(path)[1]['sparsity'] if osp.isfile(
        path) else None


def miniature_table(root: str, task: str, seeds: Sequence[int]) -> str:
    """The markdown tables of a ``table`` run (mean ± std over seeds;
    the harmonic mean is taken per seed, then averaged)."""
    from rmt_mm.runs.experiments import metrics_path, run_dir, zero_shot_dir

    def runs(method: str, shots: int, base_to_new: bool = False):
        return [run_dir(osp.join(root, method), task, shots, seed,
                        base_to_new) for seed in seeds]

    def collect(folders: List[str], target: Optional[str] = None):
        values = [read_metric(metrics_path(f, target)) for f in folders]
        return [v for v in values if v is not None]

    def sparsities(folders: List[str]):
        return [v for v in map(sparsity, folders) if v is not None]

    lines = [f'Task `{task}`, seeds {list(seeds)}: top-1 (%) on the test '
             'split, sparsity (%) of the masked weights.', '',
             '| method | shots | top-1 | sparsity |',
             '| --- | ---: | ---: | ---: |']
    zero_shot = collect([zero_shot_dir(osp.join(root, 'rmt'), task)])
    lines.append(f'| zero-shot CLIP | 0 | {mean_std(zero_shot)} | - |')
    rows = [('R-AMT', 'rmt', shots) for shots in (1, 4, 16)]
    rows.append(('AMT (lambda 0)', 'amt', 16))
    for label, method, shots in rows:
        folders = runs(method, shots)
        lines.append(f'| {label} | {shots} | {mean_std(collect(folders))} '
                     f'| {mean_std(sparsities(folders))} |')
    lines += ['', 'Base-to-new (16 shots of the base classes):', '',
              '| method | base | new | HM | sparsity |',
              '| --- | ---: | ---: | ---: | ---: |']
    b2n = [('zero-shot CLIP', [zero_shot_dir(osp.join(root, 'rmt'), task,
                                             True)]),
           ('AMT (lambda 0)', runs('amt', 16, True)),
           ('R-AMT (lambda 1)', runs('rmt', 16, True))]
    for label, folders in b2n:
        base, new = collect(folders, 'base'), collect(folders, 'new')
        hm = [2 * b * n / (b + n) for b, n in zip(base, new)]
        spars = mean_std(sparsities(folders)) if len(folders) > 1 else '-'
        lines.append(f'| {label} | {mean_std(base)} | {mean_std(new)} | '
                     f'{mean_std(hm)} | {spars} |')
    return '\n'.join(lines) + '\n'
