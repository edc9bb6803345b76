"""RMTMaskFlipHook: flips counted per update, and the cap on crossings."""
import json

import pytest
import torch

from rmt_mm.engine.hooks import RMTMaskFlipHook, limit_flips
from rmt_mm.engine.hooks.mask_flip_hook import crossing_ranks

THRESHOLD = 0.5


def crossing_case(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    before = {'a': torch.rand(6, 5, generator=g),
              'b': torch.rand(40, generator=g)}
    after = {n: t + 0.4 * (torch.rand(t.shape, generator=g) - 0.5)
             for n, t in before.items()}
    ranks = {n: torch.rand(t.shape, generator=g) for n, t in before.items()}
    return before, after, ranks


def test_limit_flips_lets_the_highest_ranked_crossers_cross():
    before, after, ranks = crossing_case()
    crossers = [(float(ranks[n].flatten()[i]), n, i)
                for n in before
                for i in range(before[n].numel())
                if (before[n].flatten()[i] > THRESHOLD) !=
                (after[n].flatten()[i] > THRESHOLD)]
    assert len(crossers) > 6
    allowed = {(n, i) for _, n, i in sorted(crossers, reverse=True)[:5]}
    scores = {n: t.clone() for n, t in after.items()}

    held = limit_flips(scores, before, ranks, THRESHOLD, max_flips=5)

    assert held == len(crossers) - 5
    for name in before:
        for i in range(before[name].numel()):
            crossed = (before[name].flatten()[i] > THRESHOLD) != \
                (after[name].flatten()[i] > THRESHOLD)
            # Values are copied, never computed: exact comparison.
            expected = (after if not crossed or (name, i) in allowed
                        else before)[name].flatten()[i]
            assert scores[name].flatten()[i] == expected, (name, i)


def test_limit_flips_changes_nothing_within_the_cap():
    before, after, ranks = crossing_case(1)
    scores = {n: t.clone() for n, t in after.items()}
    assert limit_flips(scores, before, ranks, THRESHOLD, 10**6) == 0
    # Exact: nothing held back, the scores are the untouched copies.
    assert all(torch.equal(scores[n], after[n]) for n in after)


def test_crossing_ranks_prefer_the_optimisers_running_gradient():
    scores, before = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])
    moment = torch.tensor([-3.0, 1.0])
    # Exact: abs() and differences of small integers are exact in float32.
    assert torch.equal(crossing_ranks(scores, before, {'exp_avg': moment}),
                       moment.abs())
    assert torch.equal(
        crossing_ranks(scores, before, {'momentum_buffer': moment}),
        moment.abs())
    assert torch.equal(crossing_ranks(scores, before, {}),
                       torch.tensor([1.0, 2.0]))


def test_bad_cap_is_refused():
    with pytest.raises(ValueError, match=r'max_flip_ratio must be in'):
        RMTMaskFlipHook(max_flip_ratio=0)


def flip_records(work_dir):
    scalars = next(work_dir.rglob('vis_data/scalars.json'))
    return [r for r in map(json.loads, scalars.read_text().splitlines())
            if 'update' in r]


def test_flips_per_update_add_up_to_the_final_masks(trained_run):
    records = flip_records(trained_run.work_dir)
    backbone = trained_run.model.backbone
    assert len(records) == trained_run.updates
    assert [r['update'] for r in records] == list(
        range(1, trained_run.updates + 1))
    dropped = sum(int((~m).sum()) for m in backbone.hard_masks().values())
    # Every entry starts kept: off minus on over all updates is what the
    # final masks drop. Counts are integers (exact); the run drops
    # thousands of entries on any CPU (6747 of 14336 here), so dropped > 0
    # has a wide margin.
    assert dropped > 0
    assert sum(r['flips_off'] - r['flips_on'] for r in records) == dropped
    total = sum(m.numel() for m in backbone.hard_masks().values())
    # The hook divides the same integers in Python and JSON keeps a float's
    # repr, so this is exact in fact; rel=1e-12 is a float64 ulp or two.
    assert records[-1]['sparsity'] == pytest.approx(dropped / total,
                                                    rel=1e-12)


def test_the_cap_bounds_every_update(run_tiny):
    cap = 1e-3
    run = run_tiny(
        'capped', custom_hook_args={'RMTMaskFlipHook': dict(
            max_flip_ratio=cap)})
    total = sum(m.numel() for m in run.model.backbone.hard_masks().values())
    records = flip_records(run.work_dir)
    # Integer counts. The cap (14 flips per update) holds back thousands of
    # flips per update here, so any CPU's run holds some back.
    assert any(r['flips_held_back'] > 0 for r in records)
    for r in records:
        assert r['flips_off'] + r['flips_on'] <= max(1, int(cap * total))
