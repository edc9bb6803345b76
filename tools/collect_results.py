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
import argparse
import csv
import math
import os
import os.path as osp
import re
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from rmt_mm.runs import refuse_bad_files
from rmt_mm.runs.experiments import (BASE_TO_NEW_DIR, IMAGENET_VARIANTS,
                                      METHODS, PAPER_DATASETS, REPORTED,
                                      REPORTED_AVERAGE, REPORTED_METHODS,
                                      REPORTED_METHODS_AVERAGE,
                                      ZERO_SHOT_DIR, method_root,
                                      read_metrics)

MEASURED = 'measured (ours)'
REPORTED_LABEL = 'reported (paper)'
RUN_PATTERN = re.compile(r'^shots_(\d+)$')
SEED_PATTERN = re.compile(r'^seed_(\d+)$')
METRICS_PATTERN = re.compile(r'^metrics(?:_(\w+?))?\.json$')
AVERAGE = 'average'
LEGEND_ORDER = (MEASURED, REPORTED_LABEL, f'zero-shot, {MEASURED}',
                f'zero-shot, {REPORTED_LABEL}')


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



@dataclass(frozen=True)
class Stat:
    """Mean, standard deviation (over seeds, ddof 0), seed count and the
    seeds asked for (0: not counted)."""
    mean: float
    std: float
    n: int
    asked: int = 0


#: ``(method, dataset, base_to_new, shots) -> seeds asked for``.
Asked = Dict[Tuple[str, str, bool, int], int]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Tabulate and plot a tools/sweep.py folder.')
    parser.add_argument('root', help='the sweep root (--work-root)')
    parser.add_argument(
        '--out-dir', help='output folder (default: <root>/results)')
    parser.add_argument(
        '--metric',
        default='accuracy/top1',
        help='key of the metrics JSON files to report')
    parser.add_argument(
        '--seeds',
        type=int,
        default=0,
        help='seeds the sweep asked for: cells with fewer are marked (n=k); '
        'default: the seed folders of each cell')
    return parser.parse_args(argv)


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


def order_datasets(names) -> List[str]:
    """The paper's datasets in its column order, then the others sorted."""
    names = set(names)
    return [d for d in PAPER_DATASETS if d in names] + sorted(
        names - set(PAPER_DATASETS))


def display_name(dataset: str) -> str:
    return PAPER_DATASETS.get(dataset, IMAGENET_VARIANTS.get(
        dataset, dataset))


def summarize(values: Sequence[float], asked: int = 0) -> Stat:
    return Stat(float(np.mean(values)), float(np.std(values)), len(values),
                asked)


def seeds_asked(asked: Optional[Asked], record: Record) -> int:
    """The seeds asked for in the cell of ``record`` (0: unknown)."""
    return (asked or {}).get(
        (record.method, record.dataset, record.base_to_new, record.shots), 0)


def group(records: Sequence[Record], base_to_new: bool, target_filter,
          asked: Optional[Asked] = None
          ) -> Dict[Tuple[str, int, Optional[str]], Stat]:
    """``(dataset, shots, target) -> Stat`` over seeds."""
    values, cell_asked = defaultdict(list), {}
    for r in records:
        if r.base_to_new == base_to_new and target_filter(r.target):
            values[(r.dataset, r.shots, r.target)].append(r.value)
            cell_asked[(r.dataset, r.shots, r.target)] = seeds_asked(asked, r)
    return {key: summarize(v, cell_asked[key]) for key, v in values.items()}


def harmonic_mean(base: float, new: float) -> float:
    return 2 * base * new / (base + new) if base + new else 0.0


def fmt(stat: Optional[Stat], max_n: int = 0) -> str:
    """``mean ± std``, and ``(n=k)`` when fewer seeds than ``max_n`` or
    than were asked for."""
    if stat is None:
        return '–'
    text = f'{stat.mean:.2f}'
    if stat.n > 1:
        text += f' ± {stat.std:.2f}'
    if 0 < stat.n < max(max_n, stat.asked):
        text += f' (n={stat.n})'
    return text


def shots_label(shots: int) -> str:
    return '0 (zero-shot)' if shots == 0 else str(shots)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]
                   ) -> List[str]:
    return ['| ' + ' | '.join(header) + ' |',
            '|' + '---|' * len(header)] + [
                '| ' + ' | '.join(row) + ' |' for row in rows]


def csv_row(section: str, dataset: str, method: str, shots: int,
            target: Optional[str], source: str, stat: Stat) -> dict:
    return dict(section=section, dataset=dataset, method=method, shots=shots,
                test_set=target or dataset, source=source,
                mean=round(stat.mean, 4),
                std=round(stat.std, 4) if stat.n > 1 else '',
                num_seeds=stat.n or '')


def average_stat(cells: Sequence[Optional[Stat]]) -> Optional[Stat]:
    """The mean of the cells' means, or ``None`` when a cell is missing."""
    if not cells or any(c is None for c in cells):
        return None
    return Stat(float(np.mean([c.mean for c in cells])), 0.0, 1)


def reported_value(paper: Dict[str, float], paper_average: Optional[float],
                   dataset: str, datasets: Sequence[str]) -> Optional[float]:
    """The reported number of a column: a dataset's own, or for the
    average column the paper's average when the table shows exactly the
    paper's datasets, else the mean of theirs when each has one."""
    if dataset != AVERAGE:
        return paper.get(dataset)
    if set(datasets) == set(PAPER_DATASETS):
        return paper_average
    if datasets and all(d in paper for d in datasets):
        return float(np.mean([paper[d] for d in datasets]))
    return None


def dataset_columns(datasets: List[str]) -> List[str]:
    """The datasets, plus their average when there are several."""
    return datasets + ([AVERAGE] if len(datasets) > 1 else [])


def column_names(columns: Sequence[str]) -> List[str]:
    return ['Average' if d == AVERAGE else display_name(d) for d in columns]


def measured_and_reported_rows(
        leading: List[str], measured: List[str],
        reported: List[Optional[float]]) -> List[List[str]]:
    """A table's measured row and, where the paper has a number in it, its
    reported row, both after the ``leading`` cells."""
    rows = [leading + [MEASURED] + measured]
    if any(v is not None for v in reported):
        rows.append(leading + [REPORTED_LABEL] +
                    ['–' if v is None else f'{v:.2f}' for v in reported])
    return rows


def cell_csv_rows(section: str, dataset: str, method: str, shots: int,
                  stat: Optional[Stat], paper: Optional[float]) -> List[dict]:
    """The measured and the reported row of one cell, where they exist."""
    rows = []
    if stat is not None:
        rows.append(csv_row(section, dataset, method, shots, None, MEASURED,
                            stat))
    if paper is not None:
        rows.append(csv_row(section, dataset, method, shots, None,
                            REPORTED_LABEL, Stat(paper, 0.0, 0)))
    return rows


class FewShotTable:
    """The paper's main table from the records of the default protocol.

    Args:
        records: Records of the sweep.
        asked: Seeds asked for per cell (see :func:`asked_seeds`).
    """

    def __init__(self, records: Sequence[Record],
                 asked: Optional[Asked] = None) -> None:
        self.stats = {(d, k): s
                      for (d, k, _), s in group(records, False,
                                                lambda t: t is None,
                                                asked).items()}
        self.datasets = order_datasets(d for d, _ in self.stats)
        self.shots = sorted({k for _, k in self.stats})
        self.max_n = max((s.n for (_, k), s in self.stats.items() if k),
                         default=0)

    def measured(self, dataset: str, shots: int) -> Optional[Stat]:
        if dataset == AVERAGE:
            return average_stat(
                [self.stats.get((d, shots)) for d in self.datasets])
        return self.stats.get((dataset, shots))

    def reported(self, dataset: str, shots: int) -> Optional[float]:
        return reported_value(REPORTED.get(shots, {}),
                              REPORTED_AVERAGE.get(shots), dataset,
                              self.datasets)

    @property
    def columns(self) -> List[str]:
        return dataset_columns(self.datasets)

    def markdown(self) -> List[str]:
        header = ['shots', 'source'] + column_names(self.columns)
        rows = []
        for shots in self.shots:
            rows += measured_and_reported_rows(
                [shots_label(shots)],
                [fmt(self.measured(d, shots),
                     self.max_n if shots and d != AVERAGE else 0)
                 for d in self.columns],
                [self.reported(d, shots) for d in self.columns])
        notes = [
            '',
            f'{MEASURED}: top-1 accuracy (%), mean ± std over seeds (std '
            'with ddof 0); zero-shot CLIP is one deterministic run. '
            f'{REPORTED_LABEL}: CLIP ViT-B/16 numbers of Zheng et al., '
            'ICCV 2023 (arXiv 2307.15049), mean of 3 seeds; shots 0 is '
            'zero-shot CLIP, the other rows R-AMT. Average: over the '
            'datasets of this table, shown only when all of them have a '
            'number. (n=k): only k seeds have a readable result, fewer than '
            'asked for or than other cells.',
        ]
        return markdown_table(header, rows) + notes

    def csv_rows(self) -> List[dict]:
        rows = []
        for shots in self.shots:
            method = 'zero-shot CLIP' if shots == 0 else 'R-AMT'
            for d in self.columns:
                rows += cell_csv_rows('few-shot', d, method, shots,
                                      self.measured(d, shots),
                                      self.reported(d, shots))
        return rows


def method_label(shots: int) -> str:
    return 'zero-shot CLIP' if shots == 0 else f'R-AMT ({shots} shots)'


def base_to_new_section(records: Sequence[Record],
                        asked: Optional[Asked] = None
                        ) -> Tuple[List[str], List[dict]]:
    """Markdown and CSV rows of the base-to-new protocol (empty when no
    such run exists)."""
    stats = group(records, True, lambda t: t in ('base', 'new'), asked)
    if not stats:
        return [], []
    datasets = order_datasets(d for d, _, _ in stats)
    settings = sorted({k for _, k, _ in stats})
    rows, csv_rows = [], []
    for dataset in datasets + [AVERAGE]:
        for shots in settings:
            if dataset == AVERAGE:
                cells = {t: [stats.get((d, shots, t)) for d in datasets]
                         for t in ('base', 'new')}
                if any(c is None for v in cells.values() for c in v):
                    continue
                pair = {t: Stat(float(np.mean([c.mean for c in v])), 0.0, 1)
                        for t, v in cells.items()}
            else:
                pair = {t: stats.get((dataset, shots, t))
                        for t in ('base', 'new')}
            if all(v is None for v in pair.values()):
                continue
            h = (harmonic_mean(pair['base'].mean, pair['new'].mean)
                 if None not in pair.values() else None)
            rows.append([
                'Average' if dataset == AVERAGE else display_name(dataset),
                method_label(shots), fmt(pair['base']), fmt(pair['new']),
                '–' if h is None else f'{h:.2f}'
            ])
            method = method_label(shots)
            for target, stat in pair.items():
                if stat is not None:
                    csv_rows.append(csv_row('base-to-new', dataset, method,
                                            shots, target, MEASURED, stat))
            if h is not None:
                csv_rows.append(csv_row('base-to-new', dataset, method, shots,
                                        'harmonic mean', MEASURED,
                                        Stat(h, 0.0, 1)))
    lines = ['## Base-to-new generalisation', ''] + markdown_table(
        ['dataset', f'method, {MEASURED}', 'base', 'new', 'H'], rows) + [
            '', 'H: harmonic mean of the mean base and new accuracies. '
            'rmt_mm keeps no reported (paper) base-to-new numbers.'
        ]
    return lines, csv_rows


def domain_section(records: Sequence[Record],
                   asked: Optional[Asked] = None
                   ) -> Tuple[List[str], List[dict]]:
    """Markdown and CSV rows of ImageNet -> V2/Sketch/A/R (empty when no
    variant was tested)."""
    stats = group([r for r in records if r.dataset == 'imagenet'], False,
                  lambda t: t is None or t in IMAGENET_VARIANTS, asked)
    settings = sorted({k for _, k, t in stats if t is not None})
    if not settings:
        return [], []
    targets = [None] + list(IMAGENET_VARIANTS)
    rows, csv_rows = [], []
    for shots in settings:
        cells = [stats.get(('imagenet', shots, t)) for t in targets]
        rows.append([method_label(shots)] + [fmt(c) for c in cells])
        for target, stat in zip(targets, cells):
            if stat is not None:
                csv_rows.append(csv_row('domain generalisation', 'imagenet',
                                        method_label(shots), shots, target,
                                        MEASURED, stat))
    header = [f'method, {MEASURED}', 'ImageNet'] + list(
        IMAGENET_VARIANTS.values())
    lines = ['## Domain generalisation (masks learned on ImageNet)', ''
             ] + markdown_table(header, rows) + [
                 '', 'rmt_mm keeps no reported (paper) numbers for this '
                 'benchmark.'
             ]
    return lines, csv_rows


def plot_few_shot(table: FewShotTable, path: str) -> bool:
    """Accuracy vs shots, one panel per dataset (plus the average when it
    exists for some shot count). Returns ``False`` when there is nothing to
    plot."""
    panels = [d for d in table.datasets
              if any(k and (d, k) in table.stats for k in table.shots)]
    if len(table.datasets) > 1 and any(
            table.measured(AVERAGE, k) is not None for k in table.shots if k):
        panels.append(AVERAGE)
    if not panels:
        return False
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    ncols = min(4, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.6 * ncols, 3.0 * nrows + 0.6),
        squeeze=False, layout='constrained')
    for ax in axes.flat[len(panels):]:
        ax.axis('off')
    for ax, dataset in zip(axes.flat, panels):
        shots = [k for k in table.shots
                 if k and table.measured(dataset, k) is not None]
        stats = [table.measured(dataset, k) for k in shots]
        ax.errorbar(shots, [s.mean for s in stats],
                    yerr=[s.std for s in stats], fmt='o-', capsize=3,
                    color='tab:blue', label=MEASURED)
        paper = [(k, table.reported(dataset, k)) for k in REPORTED if k]
        paper = [(k, v) for k, v in paper if v is not None]
        if paper:
            ax.plot(*zip(*paper), 's--', color='tab:orange',
                    label=REPORTED_LABEL)
        zero = table.measured(dataset, 0)
        if zero is not None:
            ax.axhline(zero.mean, color='tab:blue', linestyle=':',
                       label=f'zero-shot, {MEASURED}')
        zero_paper = table.reported(dataset, 0)
        if zero_paper is not None:
            ax.axhline(zero_paper, color='tab:orange', linestyle=':',
                       label=f'zero-shot, {REPORTED_LABEL}')
        ticks = sorted(set(shots) | {k for k, _ in paper})
        ax.set_xscale('log', base=2)
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(k) for k in ticks])
        ax.set_title('Average' if dataset == AVERAGE else
                     display_name(dataset))
        ax.set_xlabel('shots per class')
        ax.set_ylabel('top-1 accuracy (%)')
        ax.grid(alpha=0.3)
    handles = {}
    for ax in axes.flat:
        handles.update(zip(*ax.get_legend_handles_labels()[::-1]))
    labels = [label for label in LEGEND_ORDER if label in handles]
    # One legend column per panel column keeps it within the figure.
    fig.legend([handles[label] for label in labels], labels,
               loc='outside lower center', ncol=min(ncols, len(labels)))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


class MethodsTable:
    """Methods side by side: one row per method and shot count (zero-shot
    CLIP first), the datasets and their average as columns, with the
    reported numbers of method.md beside the measured ones.

    Args:
        records: Records of every method (default protocol, own test set).
        asked: Seeds asked for per cell (see :func:`asked_seeds`).
    """

    def __init__(self, records: Sequence[Record],
                 asked: Optional[Asked] = None) -> None:
        values, cell_asked = defaultdict(list), {}
        for r in records:
            if not r.base_to_new and r.target is None:
                method = 'zero_shot' if r.shots == 0 else r.method
                values[(method, r.dataset, r.shots)].append(r.value)
                cell_asked[(method, r.dataset, r.shots)] = seeds_asked(
                    asked, r)
        self.stats = {k: summarize(v, cell_asked[k])
                      for k, v in values.items()}
        self.methods = [m for m in METHODS
                        if any(k[0] == m for k in self.stats)]
        self.datasets = order_datasets(d for _, d, _ in self.stats)
        self.max_n = max((s.n for s in self.stats.values()), default=0)

    @property
    def compares(self) -> bool:
        """Whether a method besides R-AMT and zero-shot CLIP ran."""
        return bool(set(self.methods) - {'rmt', 'zero_shot'})

    def rows(self) -> List[Tuple[str, int]]:
        return sorted({(m, k) for m, _, k in self.stats},
                      key=lambda mk: (self.methods.index(mk[0]), mk[1]))

    def measured(self, method: str, dataset: str,
                 shots: int) -> Optional[Stat]:
        if dataset == AVERAGE:
            return average_stat(
                [self.stats.get((method, d, shots)) for d in self.datasets])
        return self.stats.get((method, dataset, shots))

    def reported(self, method: str, dataset: str,
                 shots: int) -> Optional[float]:
        if method in ('rmt', 'zero_shot'):
            paper = REPORTED.get(shots, {})
            average = REPORTED_AVERAGE.get(shots)
        elif shots == 16:
            paper = REPORTED_METHODS.get(method, {})
            average = REPORTED_METHODS_AVERAGE.get(method)
        else:
            return None
        return reported_value(paper, average, dataset, self.datasets)

    @property
    def columns(self) -> List[str]:
        return dataset_columns(self.datasets)

    def markdown(self) -> List[str]:
        header = ['method', 'shots', 'source'] + column_names(self.columns)
        rows = []
        for method, shots in self.rows():
            rows += measured_and_reported_rows(
                [METHODS[method].label, str(shots)],
                [fmt(self.measured(method, d, shots),
                     self.max_n if d != AVERAGE and shots else 0)
                 for d in self.columns],
                [self.reported(method, d, shots) for d in self.columns])
        return ['## Methods side by side', ''] + markdown_table(
            header, rows) + [
                '', f'{MEASURED}: top-1 accuracy (%), mean ± std over seeds. '
                f'{REPORTED_LABEL}: CLIP ViT-B/16 numbers quoted by the '
                'R-AMT paper (method.md section 8; combinations at 16 '
                'shots only; its "Tip-Adapter + R-AMT" row is listed '
                'under Tip-Adapter + R-AMT).']

    def csv_rows(self) -> List[dict]:
        rows = []
        for method, shots in self.rows():
            label = METHODS[method].label
            for d in self.columns:
                rows += cell_csv_rows('methods', d, label, shots,
                                      self.measured(method, d, shots),
                                      self.reported(method, d, shots))
        return rows


def plot_methods(table: MethodsTable, path: str) -> bool:
    """Accuracy vs shots, one panel per method with few-shot runs, one line
    per dataset (and the average), zero-shot CLIP dotted. Returns ``False``
    when there is nothing to plot."""
    panels = [m for m in table.methods if m != 'zero_shot']
    if not panels:
        return False
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    ncols = min(4, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols,
                                                   3.0 * nrows + 0.6),
                             squeeze=False, layout='constrained')
    for ax in axes.flat[len(panels):]:
        ax.axis('off')
    colours = dict(zip(table.columns, plt.rcParams[
        'axes.prop_cycle'].by_key()['color'] * 4))
    for ax, method in zip(axes.flat, panels):
        for dataset in table.columns:
            shots = sorted(k for m, k in table.rows() if m == method
                           and table.measured(m, dataset, k) is not None)
            if not shots:
                continue
            stats = [table.measured(method, dataset, k) for k in shots]
            name = 'Average' if dataset == AVERAGE else display_name(dataset)
            ax.errorbar(shots, [s.mean for s in stats],
                        yerr=[s.std for s in stats], fmt='o-', capsize=3,
                        color=colours[dataset], label=name)
            zero = table.measured('zero_shot', dataset, 0)
            if zero is not None:
                ax.axhline(zero.mean, color=colours[dataset], linestyle=':')
        ax.set_xscale('log', base=2)
        ticks = sorted({k for m, k in table.rows() if m == method})
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(k) for k in ticks])
        ax.set_title(METHODS[method].label)
        ax.set_xlabel('shots per class')
        ax.set_ylabel('top-1 accuracy (%)')
        ax.grid(alpha=0.3)
        ax.legend(fontsize='small')
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


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


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    out_dir = args.out_dir or osp.join(args.root, 'results')
    outputs = collect(args.root, out_dir, args.metric, args.seeds)
    with open(outputs['markdown']) as f:
        print(f.read())
    for kind, path in outputs.items():
        print(f'{kind}: {path}')


if __name__ == '__main__':
    with refuse_bad_files():
        main()
