"""RMTModelSelectionHook: zero-shot validation, per-epoch validation on
small val splits, the kept model and the warning below zero-shot."""
import json
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MMLogger
from rmt_testing import TINY_VIT

from rmt_mm.engine.hooks import RMTModelSelectionHook
from rmt_mm.fileio import load_mask_file
from rmt_mm.fileio.resume_checkpoint import to_plain_checkpoint
from rmt_mm.models import MaskedCLIP

# Accuracies below are floats the tests hand to the hook (FakeValLoop), and
# the hook copies them into its record: every == on them is exact. Masks are
# booleans.


class FakeValLoop:
    """Plays the validation accuracies of a run, one per ``run()``."""

    def __init__(self, runner, hook, accuracies):
        self.runner, self.hook = runner, hook
        self.accuracies = list(accuracies)

    def run(self):
        self.hook.after_val_epoch(
            self.runner, {'accuracy/top1': self.accuracies.pop(0)})


def fake_runner(tmp_path, val_size=4, train_size=12):
    torch.manual_seed(0)
    return SimpleNamespace(
        model=SimpleNamespace(backbone=MaskedCLIP(arch=TINY_VIT)),
        epoch=0, work_dir=str(tmp_path),
        val_dataloader=SimpleNamespace(dataset=[0] * val_size),
        train_dataloader=SimpleNamespace(dataset=[0] * train_size),
        train_loop=SimpleNamespace(val_interval=30, dynamic_milestones=[0],
                                   dynamic_intervals=[30]))


def play(tmp_path, select, accuracies, **runner_args):
    """Runs the hook over a run whose epoch e ends with masks dropping the
    first e entries of each tensor, validated at ``accuracies[e]``."""
    runner = fake_runner(tmp_path, **runner_args)
    hook = RMTModelSelectionHook(select=select)
    runner.val_loop = FakeValLoop(runner, hook, accuracies)
    backbone = runner.model.backbone
    hook.before_train(runner)
    for epoch in range(1, len(accuracies)):
        backbone.load_hard_masks({
            n: torch.arange(m.numel()).view(m.shape) >= epoch
            for n, m in backbone.hard_masks().items()})
        runner.epoch = epoch
        runner.val_loop.run()
    hook.after_train(runner)
    return runner, json.load(open(tmp_path / 'model_selection.json'))


def dropped_per_tensor(backbone):
    return {int((~m).sum()) for m in backbone.hard_masks().values()}


def test_best_val_keeps_the_best_epoch(tmp_path):
    runner, record = play(tmp_path, 'best_val', [50.0, 40.0, 60.0, 55.0])
    assert record['kept_epoch'] == 2 and record['kept'] == 60.0
    assert record['zero_shot'] == 50.0
    assert record['history'] == [[0, 50.0], [1, 40.0], [2, 60.0], [3, 55.0]]
    assert dropped_per_tensor(runner.model.backbone) == {2}


def test_best_val_keeps_zero_shot_unless_strictly_better(tmp_path):
    runner, record = play(tmp_path, 'best_val', [50.0, 40.0, 50.0, 45.0])
    assert record['kept_epoch'] == 0
    assert dropped_per_tensor(runner.model.backbone) == {0}


def test_last_keeps_the_last_epoch_and_warns_below_zero_shot(
        tmp_path, capsys):
    MMLogger.get_instance('selection_test', log_level='INFO')
    runner, record = play(tmp_path, 'last', [50.0, 70.0, 45.5])
    assert record['kept_epoch'] == 2
    assert dropped_per_tensor(runner.model.backbone) == {2}
    out = capsys.readouterr().out
    assert ('The kept model is below zero-shot CLIP on the validation split '
            '(accuracy/top1 45.50 < 50.00)') in out
    assert "Model selection ('last'): kept epoch 2, val accuracy/top1 " \
        '45.50 (zero-shot 50.00, last epoch 45.50).' in out


def test_no_warning_at_or_above_zero_shot(tmp_path, capsys):
    MMLogger.get_instance('selection_test_2', log_level='INFO')
    play(tmp_path, 'last', [50.0, 40.0, 50.0])
    assert 'below zero-shot' not in capsys.readouterr().out


def test_small_val_splits_are_validated_every_epoch(tmp_path):
    runner, _ = play(tmp_path, 'last', [50.0, 40.0], val_size=12,
                     train_size=12)
    assert runner.train_loop.val_interval == 1
    assert runner.train_loop.dynamic_intervals == [1]
    runner, _ = play(tmp_path, 'last', [50.0, 40.0], val_size=13,
                     train_size=12)
    assert runner.train_loop.val_interval == 30


def test_state_survives_a_resume_checkpoint(tmp_path):
    runner = fake_runner(tmp_path)
    hook = RMTModelSelectionHook(select='best_val')
    runner.val_loop = FakeValLoop(runner, hook, [50.0, 60.0])
    hook.before_train(runner)
    runner.model.backbone.load_hard_masks({
        n: torch.zeros_like(m)
        for n, m in runner.model.backbone.hard_masks().items()})
    runner.epoch = 1
    runner.val_loop.run()
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    to_plain_checkpoint(checkpoint)

    resumed = RMTModelSelectionHook(select='best_val')
    resumed.after_load_checkpoint(runner, checkpoint)
    assert resumed.history == [(0, 50.0), (1, 60.0)]
    assert resumed.best_epoch == 1
    assert all(not m.any() for m in resumed.best_masks.values())


def test_unknown_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"selection select must be one of "
                       r"\('last', 'best_val'\), got 'best'"):
        RMTModelSelectionHook(select='best')
    runner = fake_runner(tmp_path)
    runner.cfg = dict(model_selection='best')
    with pytest.raises(ValueError, match=r"selection model_selection must be "
                       r"one of \('last', 'best_val'\), got 'best'"):
        RMTModelSelectionHook().before_train(runner)


def test_best_val_run_writes_the_kept_masks(run_tiny):
    run = run_tiny('best_val', cfg_options={
        'model_selection': 'best_val',
        'optim_wrapper.optimizer.lr': 3e-2},
        custom_hook_args={'RMTMaskFileHook': dict(interval=1)})
    record = json.load(open(run.work_dir / 'model_selection.json'))
    epochs = run.cfg.train_cfg.max_epochs
    # Zero-shot, then every epoch (the val split is smaller than training).
    assert [e for e, _ in record['history']] == list(range(epochs + 1))
    # The hook chose from the very numbers of this history (copied into
    # the JSON, whose floats round-trip): exact, whatever the CPU made them.
    best = max(record['history'], key=lambda item: (item[1], -item[0]))
    assert record['kept_epoch'] == best[0]
    final, _ = load_mask_file(str(run.work_dir / 'masks_final.pth'))
    if best[0] == 0:
        assert all(m.all() for m in final.values())
    else:
        kept, _ = load_mask_file(
            str(run.work_dir / f'masks_epoch_{best[0]}.pth'))
        assert all(torch.equal(final[n], kept[n]) for n in final)
