"""The demo (rmt_mm/runs/demo.py): scikit-learn's digits written as an
image-folder tree, the summary of figures it writes, and tools/demo.py
handing its arguments on."""
import os

import numpy as np
from PIL import Image
from rmt_testing import load_tool

from rmt_mm.runs import demo


def test_digits_tree_holds_every_image_once(tmp_path):
    from sklearn.datasets import load_digits
    num_test = demo.write_digits(str(tmp_path))
    digits = load_digits()
    counts = {split: {name: len(os.listdir(tmp_path / split / name))
                      for name in demo.DIGITS}
              for split in ('train', 'test')}
    assert all(n == demo.TRAIN_PER_CLASS for n in counts['train'].values())
    per_class = np.bincount(digits.target)
    assert [counts['test'][n] for n in demo.DIGITS] == list(
        per_class - demo.TRAIN_PER_CLASS)
    assert num_test == len(digits.target) - 10 * demo.TRAIN_PER_CLASS == 797
    # Images keep their label and their pixels (8x8 scaled to 32x32).
    name = sorted(os.listdir(tmp_path / 'test' / 'seven'))[0]
    index = int(name.split('.')[0])
    assert digits.target[index] == 7
    image = np.asarray(Image.open(tmp_path / 'test' / 'seven' / name))
    assert image.shape == (32, 32, 3)
    small = np.asarray(Image.fromarray(image[..., 0]).resize((8, 8)))
    expected = digits.images[index] * 255 / 16
    # uint8 pixels from PIL, float64 correlation: 0.975 for this image
    # (>= 0.956 over the first five of every class), a wide margin.
    assert np.corrcoef(small.ravel(), expected.ravel())[0, 1] > 0.9


def test_summary_has_the_figures_in_percent(tmp_path):
    for split, per_class in (('train', 2), ('test', 3)):
        for name in ('red_circle', 'blue_ring', 'cyan_cross', 'green_star'):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                (folder / f'{i}.png').write_bytes(b'')
    summary = demo.summarize('miniature', str(tmp_path),
                             {'accuracy/top1': 40.0},
                             {'accuracy/top1': 65.5}, {'sparsity': 0.0125},
                             seconds=12.0)
    assert {'chance_top1', 'zero_shot_top1', 'rmt_top1', 'gain',
            'sparsity'} <= summary.keys()
    # Exact: Python float64 arithmetic on these literals (100 / 4,
    # 65.5 - 40.0, 0.0125 * 100) rounds to the values below on any machine.
    assert summary['chance_top1'] == 25.0
    assert summary['num_test_images'] == 12
    assert (summary['zero_shot_top1'], summary['rmt_top1']) == (40.0, 65.5)
    assert summary['gain'] == 25.5
    assert summary['sparsity'] == 1.25


def test_every_method_has_a_config_in_each_world():
    """`demo.py --methods` finds a config for every method of the sweep, and
    each one masks (or not) and adds the parts its method names."""
    from mmengine.config import Config

    from rmt_mm.runs.experiments import METHODS
    for world, template in demo.TEMPLATES.items():
        for method, spec in METHODS.items():
            cfg = Config.fromfile(
                os.path.join(demo.REPO, template.format(
                    method=method, dataset=demo.WORLD_DATASETS[world])))
            model = cfg.model
            assert (model.backbone.mask_targets is not None) == spec.masks
            assert (model.get('regularizer', 'default') is not None
                    ) == spec.masks, (world, method)
            assert ('coop' in method) == (
                model.get('head', {}).get('type') == 'RMTCoOpHead')
            adapter = model.get('adapter') or {}
            assert ('tip_adapter' in method) == bool(adapter)
            assert adapter.get('fine_tune_keys', False) == (
                'tip_adapter_f' in method)


def test_the_tool_hands_its_arguments_on(monkeypatch):
    tool = load_tool('demo')
    calls = []
    for name in ('run_demo', 'compare_methods'):
        monkeypatch.setattr(tool, name,
                            lambda *args, name=name: calls.append((name,
                                                                   args)))
    tool.main([])
    tool.main(['--world', 'digits', '--out', '/tmp/x', '--methods',
               '--seeds', '4', '5'])
    assert calls == [
        ('run_demo', ('miniature', 'demo_output')),
        ('compare_methods', ('digits', '/tmp/x/methods', [4, 5]))]


def test_methods_print_the_table_the_collector_wrote(monkeypatch, tmp_path,
                                                     capsys):
    """The side-by-side table is read from where the collector is told to
    write it."""
    from rmt_mm.runs import demo as demo_module
    monkeypatch.setattr(demo_module, 'prepare',
                        lambda *args, **kwargs: ('data', 'weights.pt'))

    def fake_step(step, log_dir, *args):
        if '--out-dir' in args:
            out_dir = args[args.index('--out-dir') + 1]
            os.makedirs(out_dir)
            with open(os.path.join(out_dir, 'results.md'), 'w') as file:
                file.write('| method | top-1 |\n')

    monkeypatch.setattr(demo_module, 'run_step', fake_step)
    demo_module.compare_methods('miniature', str(tmp_path), [1])
    assert '| method | top-1 |' in capsys.readouterr().out


def test_a_step_prints_one_short_line_and_logs_everything(tmp_path, capsys):
    from rmt_mm.runs import demo as demo_module
    demo_module.run_step('a step', str(tmp_path), '-c',
                         "print('x' * 300)")
    console = capsys.readouterr().out
    assert console.startswith('==> a step (-c) ... ') and len(console) < 40
    log = (tmp_path / 'a_step.log').read_text().splitlines()
    assert log == ["$ python -c print('x' * 300)", 'x' * 300]
