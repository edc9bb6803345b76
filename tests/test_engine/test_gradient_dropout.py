import pytest
import torch

from rmt_mm.engine import gradient_dropout

# Exactness: the rule is elementwise (no reductions), and elementwise float
# ops are correctly rounded IEEE ops, the same on every CPU, vectorised or
# not; the uniforms come from seeded generators. Kept entries are copies of
# g (g * 1.0), dropped ones exact zeros or g * (1 - lam). So every
# torch.equal and == below holds bit for bit on any processor and any
# thread count; statistical checks get tolerances of several sigma.


def reference_keep_probability(g: float, r: float) -> float:
    """method.md section 5, written out per element in plain Python."""
    if g == 0:
        return 0.5
    sign = 1.0 if g > 0 else -1.0
    return (1 + sign * (g + r) / (abs(g) + abs(r) + 1e-8)) / 2


def test_agreeing_signs_always_keep():
    g = torch.tensor([0.5, -2.0, 1e-6, -3e-4] * 1000)
    r = torch.tensor([0.1, -9.0, 5.0, -1e-4] * 1000)
    out = gradient_dropout(g, r, lam=1.0, generator=torch.Generator()
                           .manual_seed(0))
    assert torch.equal(out, g)


@pytest.mark.parametrize('g,r', [(1.0, -1.0), (3.0, -1.0), (-0.2, 0.6),
                                 (1e-3, -9e-3)])
def test_conflicting_signs_keep_with_probability(g, r):
    n = 100_000
    gt = torch.full((n, ), g)
    rt = torch.full((n, ), r)
    out = gradient_dropout(gt, rt, lam=1.0,
                           generator=torch.Generator().manual_seed(1))
    kept = (out == gt).float().mean().item()
    assert bool(((out == 0) | (out == gt)).all())
    expected = reference_keep_probability(g, r)
    # Both float64; they differ by the rule's 1e-8 epsilon only, at most
    # 1e-8 / (|g| + |r|) / 2 = 5e-7 for (1e-3, -9e-3): abs=1e-6 covers it.
    # The kept share of 1e5 draws has a standard deviation <= 0.0016:
    # abs=0.01 is six sigma (and the draws are seeded).
    assert expected == pytest.approx(abs(g) / (abs(g) + abs(r)), abs=1e-6)
    assert kept == pytest.approx(expected, abs=0.01)


def test_partial_lambda_scales_dropped_entries():
    g = torch.full((50_000, ), 2.0)
    r = torch.full((50_000, ), -2.0)  # keep probability 1/2
    lam = 0.3
    out = gradient_dropout(g, r, lam, torch.Generator().manual_seed(2))
    assert torch.equal(out.unique(),
                       torch.tensor([2.0 * (1 - lam), 2.0]))
    # Statistical: the mean of 5e4 entries of 1.4 or 2.0 has a standard
    # deviation of 0.0013; abs=0.02 is many sigma (float32 rounding of the
    # mean, ~1e-7 relative, is irrelevant).
    assert out.mean().item() == pytest.approx(2.0 * (1 - lam / 2), abs=0.02)


def test_lambda_zero_is_plain_amt_and_one_zeros_conflicts():
    torch.manual_seed(0)
    g, r = torch.randn(10_000), torch.randn(10_000)
    assert torch.equal(gradient_dropout(g, r, 0.0), g)
    out = gradient_dropout(g, r, 1.0, torch.Generator().manual_seed(3))
    conflict = torch.sign(g) != torch.sign(r)
    assert torch.equal(out[~conflict], g[~conflict])
    assert set(out[conflict].tolist()) <= set(g[conflict].tolist()) | {0.0}
    assert (out[conflict] == 0).any()


def test_draws_are_the_generators_uniforms():
    """Entry i is kept iff its keep probability exceeds the i-th uniform of
    the given generator (not of the global RNG): this is what makes the
    draws reproducible from a seed and identical on every process."""
    torch.manual_seed(0)
    g, r = torch.randn(3, 1000), torch.randn(3, 1000)
    uniform = torch.rand(g.shape, generator=torch.Generator().manual_seed(7))
    keep_prob = torch.tensor(
        [reference_keep_probability(a, b)
         for a, b in zip(g.flatten().tolist(), r.flatten().tolist())]
    ).view(g.shape)
    torch.manual_seed(123)  # the global RNG must play no part
    out = gradient_dropout(g, r, 1.0, torch.Generator().manual_seed(7))
    assert torch.equal(out, g * (keep_prob > uniform))


@pytest.mark.parametrize('g,r,without_epsilon', [(1e-9, -3e-9, 0.25),
                                                 (2e-9, 2e-9, 1.0),
                                                 (-4e-9, 1e-9, 0.8)])
def test_keep_rule_epsilon_matters_for_tiny_gradients(g, r, without_epsilon):
    """The 1e-8 in the denominator is part of the rule: for gradients of
    order 1e-9 it moves the keep probability far from what the rule without
    it gives, even where the signs agree."""
    n = 100_000
    gt, rt = torch.full((n, ), g), torch.full((n, ), r)
    out = gradient_dropout(gt, rt, 1.0, torch.Generator().manual_seed(4))
    expected = reference_keep_probability(g, r)
    # Python float64 arithmetic, the same on every machine; the kept share
    # of 1e5 seeded draws is within 0.01 (six sigma) of its probability.
    assert abs(expected - without_epsilon) > 0.15
    assert bool(((out == 0) | (out == gt)).all())
    assert (out == gt).float().mean().item() == pytest.approx(expected,
                                                              abs=0.01)


@pytest.mark.parametrize('lam', [-0.1, 1.5, 'high'])
def test_lambda_outside_unit_interval_is_rejected(lam):
    with pytest.raises(ValueError,
                       match=r'lambda must be a number in \[0, 1\]'):
        gradient_dropout(torch.ones(2), torch.ones(2), lam)


def test_bf16_gradients_draw_bf16_uniforms():
    """Scores trained in bf16 (``--dtype bf16``) get their draws in bf16
    from the generator, so every process and a resumed run draw the same
    numbers as a bf16 run before them, and the result stays bf16."""
    torch.manual_seed(0)
    g = torch.randn(3, 1000).bfloat16()
    r = torch.randn(3, 1000).bfloat16()
    uniform = torch.rand(g.shape, generator=torch.Generator().manual_seed(7),
                         dtype=torch.bfloat16)
    keep_prob = (1 + torch.sign(g) * (g + r) / (g.abs() + r.abs() + 1e-8)) / 2
    out = gradient_dropout(g, r, 1.0, torch.Generator().manual_seed(7))
    assert out.dtype == torch.bfloat16
    assert torch.equal(out, g * (keep_prob > uniform))


def test_draws_are_made_on_the_gradients_device():
    """The uniforms are drawn where the gradients live, so a GPU run draws
    on the GPU instead of on the host. Tensors on the ``meta`` device stand
    in for an accelerator here: a draw on the CPU cannot meet them."""
    g = torch.empty(3, 4, device='meta')
    out = gradient_dropout(g, torch.empty_like(g), 0.5)
    assert out.device.type == 'meta' and out.shape == g.shape
