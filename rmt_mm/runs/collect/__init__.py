"""Collects the metrics of a ``tools/sweep.py`` folder into the paper's
tables, with the paper's numbers beside ours, and plots accuracy vs shots.

Writes to ``--out-dir`` (default ``<root>/results``):

- ``results.md``: few-shot table (rows: zero-shot and each shot count,
  columns: datasets and their average, each row as "measured (ours)",
  mean +- std over seeds, and "reported (paper)"); base-to-new (base, new,
  harmonic mean) and ImageNet -> V2/Sketch/A/R tables when such runs exist.
- ``results.csv``: the same numbers, one row per cell.
- ``accuracy_vs_shots.png``: accuracy vs shots per dataset, ours with std
  error bars, the paper's curve dashed, zero-shot as horizontal lines.
- With runs of other methods (``tools/sweep.py --methods``): a "Methods
  side by side" table (each method's measured rows beside its reported
  ones) and ``accuracy_vs_shots_methods.png``, one panel per method.

Only what exists is collected: any subset of datasets, shots and seeds
works, including datasets without reported numbers. Metrics files that are
empty, not JSON or not finite are skipped with a warning, and a cell with
fewer seeds than asked for (its run folders, or ``--seeds``) is marked
``(n=k)``.

Example::

    python tools/collect_results.py work_dirs/sweep
"""
import csv
import os
import os.path as osp
from typing import Dict

from .figures import plot_few_shot, plot_methods
from .records import asked_seeds, scan
from .tables import (FewShotTable, MethodsTable, Stat, base_to_new_section,
                     csv_row, domain_section)


def collect(root: str, out_dir: str, metric: str = 'accuracy/top1',
            seeds: int = 0) -> Dict[str, str]:
    """Writes the tables and the plot of the sweep below ``root``;
    ``seeds``: how many the sweep asked for (default: the seed folders).

    Returns:
        ``{'markdown', 'csv', 'plot'}`` -> written path (``'plot'`` only
        when there are few-shot runs).

    Raises:
        FileNotFoundError: If ``root`` holds no metrics file.
    """
    all_records = scan(root, metric)
    if not all_records:
        raise FileNotFoundError(f'No metrics files (metrics*.json) below '
                                f'{root!r}; run tools/sweep.py first.')
    os.makedirs(out_dir, exist_ok=True)
    asked = asked_seeds(root, seeds)
    records = [r for r in all_records if r.method == 'rmt']
    table = FewShotTable(records, asked)
    lines, csv_rows = [f'# R-AMT results ({metric})', ''], []
    if table.stats:
        lines += ['## Few-shot classification', ''] + table.markdown() + ['']
        csv_rows += table.csv_rows()
    methods = MethodsTable(all_records, asked)
    if methods.compares:
        lines += methods.markdown() + ['']
        csv_rows += methods.csv_rows()
    for section in (base_to_new_section(records, asked),
                    domain_section(records, asked)):
        if section[0]:
            lines += section[0] + ['']
            csv_rows += section[1]
    outputs = dict(
        markdown=osp.join(out_dir, 'results.md'),
        csv=osp.join(out_dir, 'results.csv'))
    with open(outputs['markdown'], 'w') as f:
        f.write('\n'.join(lines))
    with open(outputs['csv'], 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(csv_row(
            '', '', '', 0, None, '', Stat(0, 0, 0))))
        writer.writeheader()
        writer.writerows(csv_rows)
    plot = osp.join(out_dir, 'accuracy_vs_shots.png')
    if table.stats and plot_few_shot(table, plot):
        outputs['plot'] = plot
    methods_plot = osp.join(out_dir, 'accuracy_vs_shots_methods.png')
    if methods.compares and plot_methods(methods, methods_plot):
        outputs['methods_plot'] = methods_plot
    return outputs
