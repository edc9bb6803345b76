import csv
import json
import os
import os.path as osp

import numpy as np
import pytest
from rmt_testing import run_tool

from rmt_mm.runs.collect import collect
from rmt_mm.runs.collect.records import Record, scan
from rmt_mm.runs.collect.tables import (FewShotTable, base_to_new_section,
                                        domain_section)
from rmt_mm.runs.experiments import (PAPER_DATASETS, REPORTED,
                                     REPORTED_AVERAGE, REPORTED_METHODS,
                                     metrics_path, run_dir, zero_shot_dir)

# Float comparisons here: the metrics are literals the tests write (copied,
# so == is exact), and means, standard deviations and harmonic means are
# Python/NumPy float64 over a handful of them (no BLAS, no threads), within
# ~1e-15 relative of any other order of summation. approx's default rel=1e-6
# and tables printed to 2 decimals are far above that, and no expected
# value sits at a rounding edge (x.xx5). The paper's average is compared at
# abs=0.01, the rounding of its printed numbers.


def write(path, value, key='accuracy/top1'):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump({key: value}, f)


@pytest.fixture
def sweep_root(tmp_path):
    """dtd: zero-shot 40, 1 shot {50, 52}, 16 shots {70, 74, 72};
    demo (no paper numbers): zero-shot 30, 1 shot {60}."""
    root = str(tmp_path / 'sweep')
    write(metrics_path(zero_shot_dir(root, 'dtd')), 40.0)
    for seed, value in ((1, 50.0), (2, 52.0)):
        write(metrics_path(run_dir(root, 'dtd', 1, seed)), value)
    for seed, value in ((1, 70.0), (2, 74.0), (3, 72.0)):
        write(metrics_path(run_dir(root, 'dtd', 16, seed)), value)
    write(metrics_path(zero_shot_dir(root, 'demo')), 30.0)
    write(metrics_path(run_dir(root, 'demo', 1, 1)), 60.0)
    return root


def test_reported_numbers_match_the_papers_averages():
    assert set(REPORTED) == {0, 1, 2, 4, 8, 16}
    for shots, row in REPORTED.items():
        assert list(row) == list(PAPER_DATASETS)
        assert np.mean(list(row.values())) == pytest.approx(
            REPORTED_AVERAGE[shots], abs=0.01)


def test_scan_reads_every_metrics_file_and_skips_bad_ones(sweep_root):
    folder = run_dir(sweep_root, 'dtd', 1, 1)
    write(osp.join(folder, 'metrics.partial.json'), 1.0)
    write(metrics_path(folder, 'new'), 1.0, key='other/metric')
    with open(osp.join(folder, 'metrics_base.json'), 'w') as f:
        f.write('{"accuracy/to')
    with pytest.warns(UserWarning, match='Skipping'):
        records = scan(sweep_root)
    assert len(records) == 8
    assert Record('dtd', False, 16, 3, None, 72.0) in records
    assert Record('demo', False, 0, None, None, 30.0) in records


def test_few_shot_table_numbers(sweep_root):
    table = FewShotTable(scan(sweep_root))
    assert table.datasets == ['dtd', 'demo']
    assert table.shots == [0, 1, 16]
    stat = table.measured('dtd', 16)
    assert (stat.mean, stat.n) == (72.0, 3)
    assert stat.std == pytest.approx(np.std([70, 74, 72]))
    assert table.measured('average', 1).mean == pytest.approx(55.5)
    assert table.measured('average', 16) is None  # demo has no 16 shots
    assert table.reported('dtd', 16) == REPORTED[16]['dtd']
    assert table.reported('demo', 1) is None
    assert table.reported('average', 1) is None

    lines = table.markdown()
    assert lines[0] == '| shots | source | DTD | demo | Average |'
    rows = {tuple(line.split(' | ')[:2]): line for line in lines[2:]
            if line.startswith('|')}
    assert rows[('| 0 (zero-shot)', 'measured (ours)')].endswith(
        '| 40.00 | 30.00 | 35.00 |')
    assert rows[('| 0 (zero-shot)', 'reported (paper)')].endswith(
        f'| {REPORTED[0]["dtd"]:.2f} | – | – |')
    assert '| 51.00 ± 1.00 (n=2) | 60.00 (n=1) | 55.50 |' in rows[
        ('| 1', 'measured (ours)')]
    assert '| 72.00 ± 1.63 | – | – |' in rows[('| 16', 'measured (ours)')]


def test_reported_average_over_the_shown_datasets(tmp_path):
    root = str(tmp_path)
    for dataset in ('dtd', 'eurosat'):
        write(metrics_path(run_dir(root, dataset, 4, 1)), 60.0)
    table = FewShotTable(scan(root))
    assert table.datasets == ['eurosat', 'dtd']  # the paper's order
    assert table.reported('average', 4) == pytest.approx(
        (REPORTED[4]['dtd'] + REPORTED[4]['eurosat']) / 2)
    for dataset in PAPER_DATASETS:
        write(metrics_path(run_dir(root, dataset, 4, 1)), 60.0)
        write(metrics_path(run_dir(root, dataset, 32, 1)), 70.0)
    table = FewShotTable(scan(root))
    assert table.reported('average', 4) == REPORTED_AVERAGE[4]
    # The paper has no 32-shot runs: the row has no reported line.
    assert table.reported('average', 32) is None
    assert not any(line.startswith('| 32 | reported')
                   for line in table.markdown())


def test_base_to_new_and_domain_sections(tmp_path):
    root = str(tmp_path)
    zero = zero_shot_dir(root, 'dtd', base_to_new=True)
    write(metrics_path(zero, 'base'), 60.0)
    write(metrics_path(zero, 'new'), 50.0)
    for seed, (base, new) in ((1, (79.0, 59.0)), (2, (81.0, 61.0))):
        folder = run_dir(root, 'dtd', 16, seed, base_to_new=True)
        write(metrics_path(folder, 'base'), base)
        write(metrics_path(folder, 'new'), new)
    write(metrics_path(run_dir(root, 'imagenet', 16, 1)), 73.0)
    write(metrics_path(run_dir(root, 'imagenet', 16, 1), 'imagenet_v2'),
          64.0)
    records = scan(root)

    lines, rows = base_to_new_section(records)
    assert '| DTD | zero-shot CLIP | 60.00 | 50.00 | 54.55 |' in lines
    assert ('| DTD | R-AMT (16 shots) | 80.00 ± 1.00 | 60.00 ± 1.00 | '
            '68.57 |') in lines
    h = [r for r in rows if r['test_set'] == 'harmonic mean'
         and r['shots'] == 16]
    assert h[0]['mean'] == pytest.approx(68.5714, abs=1e-4)

    lines, rows = domain_section(records)
    assert '| R-AMT (16 shots) | 73.00 | 64.00 | – | – | – |' in lines
    assert {r['test_set'] for r in rows} == {'imagenet', 'imagenet_v2'}
    # The few-shot table ignores the base-to-new and variant files.
    table = FewShotTable(records)
    assert table.datasets == table.columns == ['imagenet']


def test_collect_writes_markdown_csv_and_plot(sweep_root, tmp_path):
    out_dir = str(tmp_path / 'out')
    outputs = collect(sweep_root, out_dir)
    assert set(outputs) == {'markdown', 'csv', 'plot'}
    with open(outputs['plot'], 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    with open(outputs['markdown']) as f:
        markdown = f.read()
    assert 'reported (paper)' in markdown and 'measured (ours)' in markdown
    assert 'Base-to-new' not in markdown
    with open(outputs['csv']) as f:
        rows = list(csv.DictReader(f))
    dtd16 = {r['source']: r for r in rows
             if r['dataset'] == 'dtd' and r['shots'] == '16'}
    assert float(dtd16['measured (ours)']['mean']) == 72.0
    assert dtd16['measured (ours)']['num_seeds'] == '3'
    assert float(dtd16['reported (paper)']['mean']) == REPORTED[16]['dtd']


def test_collect_without_few_shot_runs_has_no_plot(tmp_path):
    root = str(tmp_path)
    folder = run_dir(root, 'dtd', 16, 1, base_to_new=True)
    write(metrics_path(folder, 'base'), 80.0)
    outputs = collect(root, str(tmp_path / 'out'))
    assert 'plot' not in outputs
    with pytest.raises(FileNotFoundError, match='sweep.py'):
        collect(str(tmp_path / 'out'), str(tmp_path / 'out2'))


def test_methods_side_by_side(sweep_root, tmp_path):
    coop = osp.join(sweep_root, 'coop')
    for seed, value in ((1, 60.0), (2, 64.0)):
        write(metrics_path(run_dir(coop, 'dtd', 16, seed)), value)
    write(metrics_path(run_dir(osp.join(sweep_root, 'tip_adapter'), 'dtd',
                               16, 1)), 66.0)
    outputs = collect(sweep_root, str(tmp_path / 'out'))
    text = open(outputs['markdown']).read()
    table = text[text.index('## Methods side by side'):]
    rows = [line for line in table.splitlines() if line.startswith('| ')]
    # measured mean ± std over seeds, the reported number beside it
    assert '| CoOp | 16 | measured (ours) | 62.00 ± 2.00 (n=2) |' in table
    assert (f'| CoOp | 16 | reported (paper) | '
            f'{REPORTED_METHODS["coop"]["dtd"]:.2f} |') in table
    assert '| Tip-Adapter | 16 | measured (ours) | 66.00 (n=1) |' in table
    assert '| R-AMT | 16 | measured (ours) | 72.00 ± 1.63' in table
    labels = [r.split(' | ')[0][2:] for r in rows[2:]]
    assert labels.index('zero-shot CLIP') < labels.index('R-AMT') < \
        labels.index('CoOp') < labels.index('Tip-Adapter')
    # R-AMT's own table keeps only R-AMT runs.
    assert '62.00' not in text[:text.index('## Methods side by side')]
    assert osp.isfile(outputs['methods_plot'])
    methods = [r['method'] for r in csv.DictReader(open(outputs['csv']))
               if r['section'] == 'methods']
    assert {'CoOp', 'Tip-Adapter', 'R-AMT', 'zero-shot CLIP'} <= set(methods)


def test_the_tool_prints_the_tables_and_the_files_it_wrote(sweep_root,
                                                           tmp_path):
    out_dir = str(tmp_path / 'out')
    code, output = run_tool('collect_results', sweep_root, '--out-dir',
                            out_dir)
    assert code == 0, output
    assert output.startswith('# R-AMT results (accuracy/top1)')
    for kind, name in (('markdown', 'results.md'), ('csv', 'results.csv'),
                       ('plot', 'accuracy_vs_shots.png')):
        assert f'{kind}: {osp.join(out_dir, name)}' in output
