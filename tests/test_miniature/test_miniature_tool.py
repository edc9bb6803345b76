"""The miniature table: its protocols and the table read back."""
import json
import os

from rmt_miniature.table import PROTOCOLS, miniature_table


def test_table_protocols_leave_the_schedule_to_the_recipes():
    # 16 shots on the paper's recipe, fewer on the low-shot recipe: no run
    # of the table overrides the schedule.
    for protocol in PROTOCOLS.values():
        for _, shots, flags in protocol:
            assert not any('max_epochs' in f or 'lr=' in f for f in flags)
    assert {s for _, s, _ in PROTOCOLS['few-shot']} == {1, 4, 16}


def _metrics(folder, name, value):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), 'w') as file:
        json.dump({'accuracy/top1': value}, file)


def test_table_reports_mean_std_and_per_seed_harmonic_mean(tmp_path):
    root = str(tmp_path)
    _metrics(f'{root}/rmt/t/zero_shot', 'metrics.json', 40.0)
    for seed, value in ((1, 50.0), (2, 54.0)):
        _metrics(f'{root}/rmt/t/shots_16/seed_{seed}', 'metrics.json', value)
    for seed, (base, new) in ((1, (60.0, 30.0)), (2, (80.0, 80.0))):
        folder = f'{root}/amt/t/base2new/shots_16/seed_{seed}'
        _metrics(folder, 'metrics_base.json', base)
        _metrics(folder, 'metrics_new.json', new)
    text = miniature_table(root, 't', [1, 2])
    # Exact: means, standard deviations and harmonic means of these
    # literals are Python float64, printed to 2 decimals far from any
    # rounding edge.
    assert '| zero-shot CLIP | 0 | 40.00 ± 0.00 | - |' in text
    assert '| R-AMT | 16 | 52.00 ± 2.00 | - |' in text
    assert '| R-AMT | 1 | - | - |' in text
    # HM per seed: 40 and 80 -> 60 +- 20 (not the HM of the means, 61.5).
    assert ('| AMT (lambda 0) | 70.00 ± 10.00 | 55.00 ± 25.00 | '
            '60.00 ± 20.00 | - |') in text
