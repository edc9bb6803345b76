"""--shots/--seed/--data-root, lambda 'auto', the low-shot recipe and the
start-of-run check that masks can learn at all."""
import json
import math
import sys
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from rmt_testing import REPO, load_tool

from rmt_mm.engine.hooks import learning_budget_hook
from rmt_mm.engine.hooks.learning_budget_hook import (RMTLearningBudgetHook,
                                                      scheduled_lr_sum)
from rmt_mm.runs import test as test_run
from rmt_mm.runs import train as train_run
from rmt_mm.runs.launch import check_train_config
from rmt_mm.runs.recipe import (apply_low_shot_recipe, explicit_keys,
                                resolve_lam, set_shots_and_seed)

DTD = f'{REPO}/configs/rmt/rmt_vitb16_dtd_16shot.py'
COSINE = [dict(type='CosineAnnealingLR', by_epoch=True, eta_min=0.)]
train_tool = load_tool('train')
test_tool = load_tool('test')


def train_cfg(*argv, config=DTD):
    """The config tools/train.py would run for ``argv``."""
    sys_argv, sys.argv = sys.argv, ['train.py', config, *argv]
    try:
        args = train_tool.parse_args()
    finally:
        sys.argv = sys_argv
    cfg = train_run.merge_args(Config.fromfile(config), args)
    check_train_config(cfg)
    train_run.apply_recipe(cfg, args)
    return cfg


# Floats here are Python float64 (no BLAS, no threads). Learning rates and
# lam values read from configs are copies of literals: == is exact. Sums of
# cosines are within ~1e-15 relative of their closed forms (libm's cos may
# differ by an ulp between CPUs): pytest.approx's default rel=1e-6 is
# ample, and epoch counts compare sums with a 1e-12 slack (the code rounds
# its ratio to 9 decimals), ~1e7 ulps above rounding, so the integers found
# are the same on any CPU.
def cosine_sum(lr, epochs, updates):
    """Independent: the cosine formula summed update by update."""
    return sum(lr * (1 + math.cos(math.pi * e / epochs)) / 2
               for e in range(epochs) for _ in range(updates))


def test_one_switch_sets_subsets_seed_data_and_lambda():
    cfg = train_cfg('--shots', '4', '--seed', '2', '--data-root', '/data')
    for loader in ('train_dataloader', 'val_dataloader'):
        assert cfg[loader].dataset.num_shots == 4
        assert cfg[loader].dataset.seed == 2
    assert cfg.randomness.seed == 2
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.data_root == '/data/dtd'
    assert cfg.optim_wrapper.lam == 1.0  # every 4-shot run, method.md 5


def test_test_tool_takes_the_same_switches(tmp_path):
    sys_argv, sys.argv = sys.argv, ['test.py', DTD, '--seed', '3',
                                    '--data-root', str(tmp_path)]
    try:
        args = test_tool.parse_args()
    finally:
        sys.argv = sys_argv
    cfg = test_run.merge_args(Config.fromfile(DTD), args)
    assert cfg.randomness.seed == 3
    assert cfg.test_dataloader.dataset.data_root == f'{tmp_path}/dtd'


def test_cfg_options_come_after_the_switches():
    cfg = train_cfg('--shots', '1', '--cfg-options', 'optim_wrapper.lam=0.5',
                    'train_cfg.max_epochs=7')
    assert cfg.optim_wrapper.lam == 0.5
    assert cfg.train_cfg.max_epochs == 7


@pytest.mark.parametrize('dataset,shots,subsample,lam', [
    ('dtd', 16, 'all', 0.3), ('dtd', 1, 'all', 1.0), ('dtd', 8, 'all', 1.0),
    ('food101', 16, 'all', 1.0), ('sun397', 16, 'all', 1.0),
    ('imagenet', 16, 'all', 1.0), ('eurosat', 16, 'base', 1.0),
    ('eurosat', -1, 'all', 0.3)])
def test_lambda_auto_follows_dataset_shots_and_classes(dataset, shots,
                                                       subsample, lam):
    cfg = Config.fromfile(f'{REPO}/configs/rmt/rmt_vitb16_{dataset}_16shot.py')
    cfg.train_dataloader.dataset.update(num_shots=shots, subsample=subsample)
    resolve_lam(cfg)
    assert cfg.optim_wrapper.lam == lam


def test_only_num_shots_changed_no_longer_keeps_the_16_shot_lambda():
    cfg = train_cfg('--cfg-options', 'train_dataloader.dataset.num_shots=1')
    assert cfg.optim_wrapper.lam == 1.0
    assert train_cfg('--cfg-options', 'optim_wrapper.lam=0.2')\
        .optim_wrapper.lam == 0.2


@pytest.mark.parametrize('shots', [1, 2, 4, 8, 16])
def test_shots_switch_picks_the_low_shot_recipe(shots):
    cfg = train_cfg('--shots', str(shots))
    # The paper's schedule at every shot count.
    assert cfg.train_cfg.max_epochs == cfg.train_cfg.val_interval == 30
    assert cfg.optim_wrapper.optimizer.lr == 8e-5
    assert cfg.get('model_selection', 'last') == 'last'
    if shots == 16:  # the paper's recipe
        assert 'score_stagger' not in cfg.model.backbone
    else:
        assert cfg.model.backbone.score_stagger == 'magnitude'


def write_config(path, base, text):
    path.write_text(f'_base_ = [{str(base)!r}]\n{text}')
    return str(path)


def test_the_recipe_keeps_what_the_users_config_sets(tmp_path, capsys):
    from mmengine.logging import MMLogger
    MMLogger.get_instance('recipe_keeps', log_level='INFO')
    # Three levels: the user's leaf -> the user's base (sets the scores'
    # start) -> our DTD config.
    middle = write_config(
        tmp_path / 'mine.py', DTD,
        "model = dict(backbone=dict(score_stagger='uniform'))\n")
    leaf = write_config(tmp_path / 'leaf.py', middle,
                        'train_cfg = dict(max_epochs=4)\n')
    cfg = train_cfg('--shots', '4', config=leaf)
    assert cfg.train_cfg.max_epochs == 4
    assert cfg.model.backbone.score_stagger == 'uniform'
    out = capsys.readouterr().out
    assert ("Low-shot recipe (4 shots): keeping model.backbone.score_stagger="
            "'uniform' from your config (the recipe would set 'magnitude').")\
        in out
    # --cfg-options count as set by the user too.
    cfg = train_cfg('--shots', '1', '--cfg-options',
                    'model.backbone.score_stagger=uniform')
    assert cfg.model.backbone.score_stagger == 'uniform'
    assert 'keeping model.backbone.score_stagger' in capsys.readouterr().out
    # A key the user set to the recipe's own value is simply kept, quietly.
    same = write_config(
        tmp_path / 'same.py', DTD,
        "model = dict(backbone=dict(score_stagger='magnitude'))\n")
    train_cfg('--shots', '2', config=same)
    assert 'keeping' not in capsys.readouterr().out


def test_explicit_keys_follow_the_chain_outside_the_shared_bases(tmp_path):
    keys = ('train_cfg.max_epochs', 'optim_wrapper.optimizer.lr')
    assert explicit_keys(DTD, keys) == []
    # ImageNet's own schedule is an experiment's choice, kept too.
    assert explicit_keys(f'{REPO}/configs/rmt/rmt_vitb16_imagenet_16shot.py',
                         keys) == list(keys)
    mine = write_config(tmp_path / 'mine.py', DTD,
                        'optim_wrapper = dict(optimizer=dict(lr=1e-4))\n')
    assert explicit_keys(mine, keys) == ['optim_wrapper.optimizer.lr']
    # The same value as inherited is not a choice.
    same = write_config(tmp_path / 'same.py', DTD,
                        'train_cfg = dict(max_epochs=30)\n')
    assert explicit_keys(same, keys) == []


def test_no_recipe_for_methods_without_masks():
    cfg = train_cfg('--shots', '1',
                    config=f'{REPO}/configs/coop/coop_vitb16_dtd_16shot.py')
    assert 'score_stagger' not in cfg.model.backbone


def test_lr_sum_follows_the_real_schedule():
    # The figure: DTD 1 shot on the 16-shot recipe, about 1.2e-3.
    total, updates = scheduled_lr_sum(8e-5, COSINE, 30, 1)
    assert updates == 30
    assert total == pytest.approx(cosine_sum(8e-5, 30, 1))
    assert total == pytest.approx(1.24e-3)
    # T_max follows max_epochs: 2 epochs anneal to half, not 30 epochs'.
    total, _ = scheduled_lr_sum(8e-5, COSINE, 2, 1)
    assert total == pytest.approx(8e-5 + 4e-5)
    # 5 iterations, 2 per update: updates after iterations 2, 4, 6, 8, 10.
    total, updates = scheduled_lr_sum(1.0, None, 2, 5, 2)
    assert (total, updates) == (5.0, 5)


def fake_runner(tmp_path, lr, epochs, iters, score_stagger=None):
    backbone = SimpleNamespace(score_init=1e-2, threshold=5e-3,
                               score_stagger=score_stagger)
    group = dict(lr=lr, initial_lr=lr)
    return SimpleNamespace(
        model=SimpleNamespace(backbone=backbone),
        optim_wrapper=SimpleNamespace(param_groups=[group], lam=1.0,
                                      _accumulative_counts=1),
        train_dataloader=[None] * iters,
        cfg=Config(dict(param_scheduler=COSINE,
                        train_dataloader=dict(dataset=dict(num_shots=1)))),
        max_epochs=epochs, seed=1, work_dir=str(tmp_path))


def run_hook(tmp_path, monkeypatch, **runner):
    lines = []
    monkeypatch.setattr(learning_budget_hook, 'print_log',
                        lambda msg, **kw: lines.append((kw.get('level'),
                                                        msg)))
    RMTLearningBudgetHook().before_train(fake_runner(tmp_path, **runner))
    return lines


def test_warning_when_no_entry_can_flip(tmp_path, monkeypatch):
    (level, line), = run_hook(tmp_path, monkeypatch, lr=8e-5, epochs=30,
                              iters=1)
    assert level == 30  # logging.WARNING
    assert '\n' not in line
    assert 'No mask entry can change' in line
    assert '30 updates' in line and '1.24e-03' in line and '5.0e-03' in line
    assert '--shots' in line and 'max_epochs' in line
    record = json.load(open(tmp_path / 'run_recipe.json'))
    assert record['lr_sum'] == pytest.approx(1.24e-3)
    assert (record['shots'], record['seed'], record['lam']) == (1, 1, 1.0)


def test_no_warning_on_the_low_shot_recipe(tmp_path, monkeypatch):
    (level, line), = run_hook(tmp_path, monkeypatch, lr=8e-5, epochs=249,
                              iters=1)
    assert level is None and 'Learning budget' in line


def test_staggered_scores_report_the_share_within_reach(tmp_path,
                                                        monkeypatch):
    # DTD 1 shot on the paper's schedule: 30 updates summing to ~1.24e-3,
    # about 12 % of the 1e-2 over which the scores are spread.
    (level, line), = run_hook(tmp_path, monkeypatch, lr=8e-5, epochs=30,
                              iters=1, score_stagger='magnitude')
    assert level is None
    assert line == ('Learning budget: 30 updates, learning rates summing to '
                    '1.24e-03; with initial scores staggered over 1.0e-02 '
                    'above the threshold, about 12% of the entries start '
                    'within reach of it.')
    record = json.load(open(tmp_path / 'run_recipe.json'))
    assert record['score_stagger'] == 'magnitude'


def test_lambda_auto_outside_the_tools_is_a_clear_error():
    from rmt_mm.engine.grad_dropout import GradDropoutOptimWrapper
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1)
    with pytest.raises(ValueError, match="'auto' is resolved"):
        GradDropoutOptimWrapper(optimizer=optimizer, lam='auto')


def test_seed_switch_keeps_the_other_randomness_settings():
    cfg = Config(dict(randomness=dict(seed=0, deterministic=True)))
    set_shots_and_seed(cfg, seed=3)
    assert cfg.randomness == dict(seed=3, deterministic=True)
    cfg = Config(dict())
    set_shots_and_seed(cfg, seed=3)
    assert cfg.randomness == dict(seed=3)


def logged_lines(monkeypatch, fn, cfg) -> list:
    """What ``fn(cfg)`` logs through the recipe's ``print_log``."""
    from rmt_mm.runs import recipe
    lines = []
    monkeypatch.setattr(recipe, 'print_log',
                        lambda msg, logger=None, level=None: lines.append(
                            (msg, logger)))
    fn(cfg)
    return lines


@pytest.mark.parametrize('dataset,lam,said', [
    (dict(type='RMTFewShotDTD', num_shots=4, subsample='base'), 1.0,
     'dtd, 4 shots, base-to-new'),
    (dict(type='RMTFewShotDTD', num_shots=16), 0.3, 'dtd, 16 shots'),
    (dict(type='RMTFewShotDTD', num_shots=16, subsample='all'), 0.3,
     'dtd, 16 shots'),
    (dict(type='RMTFewShotImageNet'), 1.0, 'imagenet, all shots'),
    (dict(type='MyFolders', num_shots=16), 0.3, 'MyFolders, 16 shots'),
])
def test_lambda_auto_is_resolved_and_logged(monkeypatch, dataset, lam, said):
    cfg = Config(dict(optim_wrapper=dict(lam='auto'),
                      train_dataloader=dict(dataset=dataset)))
    lines = logged_lines(monkeypatch, resolve_lam, cfg)
    assert cfg.optim_wrapper.lam == lam
    assert lines == [(f"Gradient dropout lambda 'auto' -> {lam} ({said}; "
                      'method.md section 5).', 'current')]


def low_shot_cfg(**dataset) -> Config:
    """DTD's 47 classes, 4 images per process and 32 per update, at the
    paper's lr, score init and threshold."""
    return Config(dict(
        global_batch_size=32, data_preprocessor=dict(num_classes=47),
        model=dict(backbone=dict(type='RMTMaskedCLIP')),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=8e-5)),
        train_cfg=dict(by_epoch=True, max_epochs=30, val_interval=1),
        train_dataloader=dict(batch_size=4, dataset=dict(
            type='RMTFewShotDTD', **dataset))))


def test_low_shot_recipe_logs_what_it_sets(monkeypatch):
    cfg = low_shot_cfg(num_shots=1)
    lines = logged_lines(monkeypatch, apply_low_shot_recipe, cfg)
    assert cfg.model.backbone.score_stagger == 'magnitude'
    assert (cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval) == (30, 1)
    assert lines == [(
        "Low-shot recipe (1 shots): initial mask scores staggered by "
        "'magnitude', the schedule kept (30 epochs at lr 8e-05; "
        'docs/method.md section 10).', 'current')]


@pytest.mark.parametrize('dataset', [dict(), dict(num_shots=16),
                                     dict(num_shots=-1), dict(num_shots=0)])
def test_no_low_shot_recipe_from_16_shots_or_every_image(monkeypatch,
                                                         dataset):
    cfg = low_shot_cfg(**dataset)
    assert logged_lines(monkeypatch, apply_low_shot_recipe, cfg) == []
    assert (cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval) == (30, 1)
