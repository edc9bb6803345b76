import json
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample
from rmt_testing import TINY_VIT

from rmt_mm.engine import (GradDropoutOptimWrapper, ParameterSelector,
                           candidate_groups, select_top)
from rmt_mm.engine.hooks.parameter_selector import _point_optimizer_at
from rmt_mm.models import RMTClassifier


class Loader(list):
    dataset = None


def make_runner(tmp_path, resume=False, **parts):
    torch.manual_seed(0)
    model = RMTClassifier(
        backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT),
        classnames=('a', 'b', 'c'),
        data_preprocessor=dict(type='mmpretrain.ClsDataPreprocessor'),
        **parts)
    g = torch.Generator().manual_seed(0)
    batches = Loader(
        dict(inputs=list(torch.randint(0, 255, (4, 3, 32, 32), generator=g,
                                       dtype=torch.uint8)),
             data_samples=[DataSample().set_gt_label(k) for k in (0, 1, 2, 0)])
        for _ in range(2))
    wrapper = GradDropoutOptimWrapper(
        optimizer=torch.optim.Adam(model.parameters()), lam=1.0)
    return SimpleNamespace(model=model, optim_wrapper=wrapper,
                           train_dataloader=batches, work_dir=str(tmp_path),
                           _resume=resume)


def test_candidate_groups_cover_attention_mlp_and_conv1():
    names = RMTClassifier(backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT),
                          classnames=('a', )).backbone.candidate_names()
    groups = candidate_groups(names)
    assert set(groups) == {
        'visual.conv1', 'visual.transformer.resblocks.0.attn',
        'visual.transformer.resblocks.0.mlp',
        'visual.transformer.resblocks.1.attn',
        'visual.transformer.resblocks.1.mlp'
    }
    assert groups['visual.transformer.resblocks.1.mlp'] == [
        'visual.transformer.resblocks.1.mlp.c_fc.weight',
        'visual.transformer.resblocks.1.mlp.c_proj.weight'
    ]


def test_select_top_by_count_and_budget():
    scores = dict(a=3.0, b=2.0, c=1.0)
    sizes = dict(a=10, b=100, c=5)
    assert select_top(scores, sizes, top_k=2, param_budget=None) == ['a', 'b']
    assert select_top(scores, sizes, top_k=None, param_budget=20) == ['a', 'c']
    # By score, not by name.
    scores = dict(a=1.0, b=3.0, c=2.0)
    assert select_top(scores, sizes, top_k=2, param_budget=None) == ['b', 'c']


def test_a_group_exactly_at_the_budget_fits():
    scores = dict(a=3.0, b=2.0, c=1.0)
    sizes = dict(a=10, b=100, c=5)
    assert select_top(scores, sizes, None, param_budget=10) == ['a']
    assert select_top(scores, sizes, None, param_budget=110) == ['a', 'b']
    assert select_top(scores, sizes, None, param_budget=115) == ['a', 'b', 'c']


def test_importance_budget_equal_to_the_best_group_keeps_it(tmp_path):
    first = make_runner(tmp_path)
    ParameterSelector(mode='importance', num_batches=1,
                      top_k=1).before_run(first)
    best = next(g for g in json.load(open(tmp_path / 'mask_selection.json'))
                ['groups'] if g['selected'])
    runner = make_runner(tmp_path)
    ParameterSelector(mode='importance', num_batches=1,
                      param_budget=best['params']).before_run(runner)
    # Exact: both selections score the same data with the same kernels in
    # this process; sizes are integers.
    assert (runner.model.backbone.mask_names ==
            first.model.backbone.mask_names)
    record = json.load(open(tmp_path / 'mask_selection.json'))
    assert (record['top_k'], record['param_budget']) == (None, best['params'])


def test_importance_selection(tmp_path):
    runner = make_runner(tmp_path)
    ParameterSelector(mode='importance', num_batches=2,
                      top_k=2).before_run(runner)
    record = json.load(open(tmp_path / 'mask_selection.json'))
    chosen = [g['name'] for g in record['groups'] if g['selected']]
    assert len(chosen) == 2

    # Independent saliency: plain open_clip forward, grads of W directly.
    model = make_runner(tmp_path).model
    clip = model.backbone.clip
    params = dict(clip.named_parameters())
    groups = candidate_groups(model.backbone.candidate_names())
    totals = {g: 0.0 for g in groups}
    for batch in runner.train_dataloader:
        data = model.data_preprocessor(batch, False)
        labels = torch.cat([s.gt_label for s in data['data_samples']])
        for g, names in groups.items():
            ws = [params[n].requires_grad_(True) for n in names]
            feats = F.normalize(clip.encode_image(data['inputs']), dim=-1)
            logits = clip.logit_scale.exp() * feats @ model.text_features.t()
            grads = torch.autograd.grad(F.cross_entropy(logits, labels), ws)
            totals[g] += sum((gr * w).abs().sum().item()
                             for gr, w in zip(grads, ws)) / sum(
                                 w.numel() for w in ws)
            for w in ws:
                w.requires_grad_(False)
    expected = {g: t / 2 for g, t in totals.items()}
    # Other float32 paths (plain forward, sums of .item()s in float64):
    # scores agree to ~1e-7 relative (7.5e-8 seen); rel=1e-4 leaves wide
    # margin. The ranking is robust: the second and third groups are ~3%
    # apart, far beyond float noise, so every CPU chooses the same two.
    for group in record['groups']:
        assert group['score'] == pytest.approx(expected[group['name']],
                                               rel=1e-4)
    assert set(chosen) == set(sorted(expected, key=expected.get)[-2:])

    backbone = runner.model.backbone
    assert backbone.mask_names == [
        n for g in groups if g in chosen for n in groups[g]]
    held = runner.optim_wrapper.optimizer.param_groups[0]['params']
    assert [id(p) for p in held] == [id(s) for _, s in backbone.masks.items()]
    # Mask files must tell evaluation that the data chose the selection.
    assert {k: v for k, v in record.items()
            if k not in ('groups', 'selected_names')} == dict(
                mode='importance', patterns=None,
                measure='mean |dL/dW * W| per entry (zero-shot CE)',
                num_batches=2, top_k=2, param_budget=None)
    assert backbone.selection['mode'] == 'importance'
    assert backbone.selection['top_k'] == 2


def test_fixed_selection_of_the_models_targets_is_not_recorded(tmp_path):
    runner = make_runner(tmp_path)
    ParameterSelector(mode='fixed').before_run(runner)
    assert runner.model.backbone.selection is None


def test_resume_reuses_the_recorded_selection(tmp_path, monkeypatch):
    first = make_runner(tmp_path)
    ParameterSelector(mode='importance', num_batches=1,
                      top_k=1).before_run(first)
    resumed = make_runner(tmp_path, resume=True)
    logged = log_of(monkeypatch)
    ParameterSelector(mode='fixed').before_run(resumed)
    assert (resumed.model.backbone.mask_names ==
            first.model.backbone.mask_names)
    assert logged[0] == ('ParameterSelector: reusing the selection in '
                         f'{tmp_path / "mask_selection.json"}', 'current')
    # A new run in the same work_dir selects again (a runner that does not
    # say it resumes is a new run).
    fresh = make_runner(tmp_path)
    del fresh._resume
    ParameterSelector().before_run(fresh)
    assert fresh.model.backbone.mask_names == make_runner(
        tmp_path).model.backbone.mask_names


def test_fixed_patterns_replace_the_configs_targets(tmp_path):
    """``patterns`` picks the masked weights itself; the record and the
    model's selection (which mask files carry) say which."""
    patterns = ['visual.transformer.resblocks.*.attn.out_proj.weight']
    selected = ['visual.transformer.resblocks.0.attn.out_proj.weight',
                'visual.transformer.resblocks.1.attn.out_proj.weight']
    runner = make_runner(tmp_path, head=dict(type='RMTCoOpHead',
                                             num_context=2))
    runner.model = torch.nn.DataParallel(runner.model)
    ParameterSelector(patterns=patterns).before_run(runner)
    backbone = runner.model.module.backbone
    assert backbone.mask_names == selected
    assert backbone.selection == dict(mode='fixed', patterns=patterns)
    assert json.load(open(tmp_path / 'mask_selection.json')) == dict(
        mode='fixed', patterns=patterns, selected_names=selected, groups=[])
    # The optimizer holds the new scores first, then the CoOp context, each
    # once, and nothing frozen.
    context = runner.model.module.head.context
    held = [id(p) for g in runner.optim_wrapper.optimizer.param_groups
            for p in g['params']]
    assert held == [id(s) for _, s in backbone.masks.items()] + [id(context)]


def test_an_optimizer_already_holding_the_scores_holds_each_once(tmp_path):
    """Pointing the optimizer at the model is idempotent: the scores it
    already holds are not added twice."""
    runner = make_runner(tmp_path, head=dict(type='RMTCoOpHead',
                                             num_context=2))
    for _ in range(2):
        _point_optimizer_at(runner.optim_wrapper, runner.model)
    held = [id(p) for g in runner.optim_wrapper.optimizer.param_groups
            for p in g['params']]
    assert held == [id(s) for _, s in runner.model.backbone.masks.items()
                    ] + [id(runner.model.head.context)]


def test_bad_arguments():
    with pytest.raises(ValueError) as info:
        ParameterSelector(mode='random')
    assert str(info.value) == ("ParameterSelector mode must be 'fixed' or "
                               "'importance', got 'random'.")
    with pytest.raises(ValueError) as info:
        ParameterSelector(mode='importance')
    assert str(info.value) == (
        "ParameterSelector(mode='importance') needs exactly one of `top_k` "
        '(number of groups) or `param_budget` (masked entries).')


def test_importance_scores_four_batches_by_default(tmp_path):
    runner = make_runner(tmp_path)
    runner.train_dataloader = Loader(runner.train_dataloader * 3)
    ParameterSelector(mode='importance', top_k=1).before_run(runner)
    record = json.load(open(tmp_path / 'mask_selection.json'))
    assert record['num_batches'] == 4


def test_a_budget_below_every_group_is_a_clear_error(tmp_path):
    runner = make_runner(tmp_path)
    groups = candidate_groups(runner.model.backbone.candidate_names())
    params = dict(runner.model.backbone.clip.named_parameters())
    smallest = min(sum(params[n].numel() for n in names)
                   for names in groups.values())
    with pytest.raises(ValueError) as info:
        ParameterSelector(mode='importance', num_batches=1,
                          param_budget=smallest - 1).before_run(runner)
    assert str(info.value) == (
        f'param_budget={smallest - 1} is smaller than every candidate group '
        f'(smallest: {smallest} entries).')


def log_of(monkeypatch) -> list:
    """What the selector logs from now on, as ``(message, logger)``."""
    from rmt_mm.engine.hooks import parameter_selector
    logged = []
    monkeypatch.setattr(parameter_selector, 'print_log',
                        lambda msg, logger=None: logged.append((msg, logger)))
    return logged


def test_the_selection_is_logged_as_a_table(tmp_path, monkeypatch):
    """The log shows each candidate group with its size, its score and
    whether it was kept, then what is masked in all."""
    logged = log_of(monkeypatch)
    backbone = SimpleNamespace(
        mask_names=['a', 'b'],
        masks={'a': torch.zeros(1000, 2000), 'b': torch.zeros(3)})
    record = dict(mode='importance', groups=[
        dict(name='visual.conv1', params=1234567, score=1.5e-3,
             selected=True),
        dict(name='visual.transformer.resblocks.0.attn', params=12,
             score=2.0, selected=False)])
    ParameterSelector._report(record, backbone, str(tmp_path / 'sel.json'))
    ParameterSelector._report(dict(mode='pattern', groups=[]), backbone,
                              str(tmp_path / 'sel.json'))
    assert logged == [(
        'ParameterSelector (importance):\n'
        'group                                         entries        score'
        '  keep\n'
        'visual.conv1                                1,234,567   1.5000e-03'
        '  yes\n'
        'visual.transformer.resblocks.0.attn                12   2.0000e+00'
        '  -\n'
        '2 masked tensors, 2,000,003 masked entries', 'current'), (
        'ParameterSelector (pattern):\n'
        '2 masked tensors, 2,000,003 masked entries', 'current')]
    assert json.load(open(tmp_path / 'sel.json')) == dict(mode='pattern',
                                                          groups=[])
