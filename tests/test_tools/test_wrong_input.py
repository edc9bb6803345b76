"""Input that is wrong gets told so: batch options, empty class folders,
images of any size, a selection without scores, stale sweep results."""
import glob
import json
import os
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from PIL import Image
from rmt_testing import REPO, load_tool

from rmt_mm.fileio import FileRefusedError
from rmt_mm.runs import launch, sweep
from rmt_mm.runs.experiments import metrics_path, run_dir

sweep_cli = load_tool('sweep')


def test_batch_size_option_is_refused_while_global_batch_rules():
    cfg = Config(dict(global_batch_size=32,
                      train_dataloader=dict(batch_size=32)))
    with pytest.raises(ValueError, match='batch_size=8 would be ignored: '
                       'global_batch_size=32'):
        launch.check_batch_options(cfg, {'train_dataloader.batch_size': 8})
    launch.check_batch_options(cfg, {'global_batch_size': 8})
    cfg.global_batch_size = None
    launch.check_batch_options(cfg, {'train_dataloader.batch_size': 8})


@pytest.mark.parametrize('world_size,warned', [(1, False), (4, True)])
def test_global_batch_larger_than_the_training_set_warns(monkeypatch,
                                                         world_size, warned):
    messages = []
    monkeypatch.setattr(launch, 'print_log',
                        lambda message, **kwargs: messages.append(message))
    runner = SimpleNamespace(
        train_dataloader=SimpleNamespace(batch_size=8, dataset=range(12)),
        cfg=Config(dict(optim_wrapper=dict())), world_size=world_size)
    launch.warn_if_batch_exceeds_dataset(runner)
    assert bool(messages) == warned
    if warned:
        assert 'global batch of 32 (8 per process x 4' in messages[0]
        assert 'training set (12 samples)' in messages[0]


SHIPPED = sorted(glob.glob(osp.join(REPO, 'configs/_base_/datasets/*.py')) +
                 glob.glob(osp.join(REPO, 'configs/demo/*.py')))


@pytest.mark.parametrize('config', SHIPPED, ids=osp.basename)
def test_shipped_pipelines_take_images_of_any_size(tmp_path, config):
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(config)
    loaders = [cfg.get(k) for k in ('train_dataloader', 'test_dataloader')]
    pipelines = [loader.dataset.pipeline for loader in loaders if loader]
    assert pipelines
    for pipeline in pipelines:
        transform = Compose(pipeline)
        shapes = set()
        for width, height in ((1, 1), (3, 500), (500, 2), (64, 48)):
            path = str(tmp_path / f'{width}x{height}.png')
            Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(path)
            shapes.add(tuple(transform(dict(img_path=path))['inputs'].shape))
        assert len(shapes) == 1, shapes


def test_selection_of_a_fixed_run_has_no_scores_to_plot(tmp_path):
    path = tmp_path / 'mask_selection.json'
    path.write_text(json.dumps(dict(mode='fixed', selected_names=['a'],
                                    groups=[])))
    with pytest.raises(FileRefusedError, match='no scores to plot'):
        load_tool('visualize').main(['selection', str(path)])


def _plan(root: str, *extra: str):
    args = sweep_cli.parse_args(['--configs', f'dtd={REPO}/configs/rmt/'
                                 'rmt_vitb16_dtd_16shot.py', '--shots', '1',
                                 '--seeds', '1', '--work-root', root, *extra])
    experiments = [sweep.load_experiment(n, c)
                   for n, c in sweep.config_specs(args)]
    return sweep.plan_runs(experiments, args, {})


def _finish(root: str, *extra: str) -> str:
    """Plays a successful sweep run: its outputs and settings records."""
    (run, ), _ = _plan(root, *extra)
    for step in run.steps:
        os.makedirs(run.work_dir, exist_ok=True)
        with open(step.done_file, 'w') as f:
            f.write('{}')
        sweep.record_settings(step, run.work_dir)
    return run.work_dir


def test_sweep_keys_finished_runs_by_their_settings(tmp_path):
    root = str(tmp_path)
    folder = _finish(root)
    assert folder == run_dir(root, 'dtd', 1, 1)
    assert _plan(root) == ([], 1)
    (run, ), done = _plan(root, '--zero-shot')
    assert done == 1 and run.label == 'dtd zero-shot'
    for other in (['--lam', '0.5'],
                  ['--cfg-options', 'model.backbone.score_init=0.1']):
        with pytest.raises(sweep.StaleRunError, match='trained with other '
                           'settings.*dtd shots=1 seed=1'):
            _plan(root, *other)


def test_sweep_reruns_a_test_made_with_other_settings(tmp_path):
    root = str(tmp_path)
    folder = _finish(root)
    record = sweep.recorded_settings(folder)
    record[osp.basename(metrics_path(folder))].append('changed=1')
    with open(osp.join(folder, sweep.SETTINGS_FILE), 'w') as f:
        json.dump(record, f)
    (run, ), done = _plan(root)
    assert done == 0 and [s.kind for s in run.steps] == ['test']
