"""The results tables: mean and standard deviation over seeds per cell, and
the few-shot, methods side by side, base-to-new and domain tables as
Markdown lines and CSV rows, the paper's numbers beside the measured
ones."""
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..experiments import (IMAGENET_VARIANTS, METHODS, PAPER_DATASETS,
                           REPORTED, REPORTED_AVERAGE, REPORTED_METHODS,
                           REPORTED_METHODS_AVERAGE)
from .records import Asked, Record

MEASURED = 'measured (ours)'
REPORTED_LABEL = 'reported (paper)'
AVERAGE = 'average'


@dataclass(frozen=True)
class Stat:
    """Mean, standard deviation (over seeds, ddof 0), seed count and the
    seeds asked for (0: not counted)."""
    mean: float
    std: float
    n: int
    asked: int = 0


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
