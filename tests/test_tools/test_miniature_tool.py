"""tools/miniature.py: the step budget per run and the miniature table."""
import json
import os

from rmt_testing import load_tool

miniature = load_tool('miniature')


def test_every_run_gets_about_the_same_number_of_steps():
    # 36 classes, batch 32: 16 shots = 18 steps/epoch; 4 shots = 144
    # images = 4 complete batches (the last 16 images are dropped); 1 shot =
    # 36 images = 1 batch. A 1-shot run of 90 epochs would make 90 updates,
    # too few to flip any mask at the miniature lr.
    assert miniature.epochs_for(36, 16, 32) == 10
    assert miniature.epochs_for(36, 4, 32) == 45
    assert miniature.epochs_for(36, 1, 32) == 180
    assert miniature.epochs_for(18, 16, 32) == 20


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
    text = miniature.miniature_table(root, 't', [1, 2])
    assert '| zero-shot CLIP | 0 | 40.00 ± 0.00 | - |' in text
    assert '| R-AMT | 16 | 52.00 ± 2.00 | - |' in text
    assert '| R-AMT | 1 | - | - |' in text
    # HM per seed: 40 and 80 -> 60 +- 20 (not the HM of the means, 61.5).
    assert ('| AMT (lambda 0) | 70.00 ± 10.00 | 55.00 ± 25.00 | '
            '60.00 ± 20.00 | - |') in text
