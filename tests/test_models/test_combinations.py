"""The combinations with R-AMT: equal to their base method at step 0, and
gradient dropout touches the mask scores only."""
import pytest
import torch
from mmpretrain.structures import DataSample
from rmt_testing import TINY_VIT

from rmt_mm.engine import GradDropoutOptimWrapper, gradient_dropout
from rmt_mm.models import RMTClassifier

CLASSES = ('cat', 'dog', 'bird')
NO_MASKS = dict(type='RMTMaskedCLIP', arch=TINY_VIT, mask_targets=None)
MASKS = dict(type='RMTMaskedCLIP', arch=TINY_VIT)
COOP = dict(type='RMTCoOpHead', num_context=4)


def build(backbone, seed=0, **parts):
    torch.manual_seed(seed)
    return RMTClassifier(backbone=backbone, classnames=CLASSES, **parts)


def with_cache(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    model.adapter.build_cache(torch.randn(9, 16, generator=g),
                              torch.arange(9) % 3, 3)
    return model


def same(a, b, train):
    """Bit for bit in evaluation; in a training forward the straight-through
    weights take another kernel path (float rounding, as R-AMT's own student
    and teacher at step 0).

    Evaluation is exact by construction: fresh masks fold to W * 1.0 == W
    and both models run the same kernels on the same input in this process.
    In training, float32 features differ by ~1e-6 relative; the logits here
    are <= ~2 (4.8e-7 seen), so atol 1e-5 leaves margin on other CPUs, while
    any real difference (another head, a mask applied) is of order 0.1-1.
    """
    return torch.allclose(a, b, rtol=0, atol=1e-5) if train else \
        torch.equal(a, b)


@pytest.mark.parametrize('train', [False, True])
def test_coop_plus_rmt_equals_coop_at_step_0(train):
    coop = build(NO_MASKS, head=COOP, regularizer=None).train(train)
    combo = build(MASKS, head=COOP).train(train)
    # Exact: the same seed draws the same context.
    assert torch.equal(coop.head.context, combo.head.context)
    images = torch.rand(3, 3, 32, 32)
    assert same(coop.logits(images), combo.logits(images), train)


@pytest.mark.parametrize('fine_tune', [False, True])
def test_tip_adapter_plus_rmt_equals_tip_adapter_at_step_0(fine_tune):
    adapter = dict(type='RMTTipAdapter', alpha=2.0, beta=3.0,
                   fine_tune_keys=fine_tune)
    tip = with_cache(build(NO_MASKS, adapter=adapter, regularizer=None))
    combo = with_cache(build(MASKS, adapter=adapter))
    images = torch.rand(3, 3, 32, 32)
    for mode in (False, True):
        assert same(tip.train(mode).logits(images),
                    combo.train(mode).logits(images), mode)


def test_dropout_on_mask_scores_only_plain_gradient_elsewhere():
    model = build(MASKS, head=COOP).train()
    # Drop some weights so that task and regulariser gradients conflict.
    with torch.no_grad():
        for _, s in model.backbone.masks.items():
            s.mul_((torch.rand(s.shape) > 0.3).float())
    g = torch.Generator().manual_seed(2)
    images = torch.rand(4, 3, 32, 32, generator=g)
    samples = [DataSample().set_gt_label(k) for k in (0, 1, 2, 1)]
    scores = [s for _, s in model.backbone.masks.items()]
    context = model.head.context
    assert model.gradient_dropout_parameters() == scores

    # Independent: plain autograd, then the rule on the scores only.
    losses, regularization = model.step_losses(images, samples)
    task = losses['loss_ce'] + losses['loss_sparsity']
    g_task = torch.autograd.grad(task, scores + [context], retain_graph=True)
    g_reg = torch.autograd.grad(regularization, scores)
    generator = torch.Generator().manual_seed(7 * 1_000_003)
    expected_scores = [s.detach() - gradient_dropout(gt, gr, 1.0, generator)
                       for s, gt, gr in zip(scores, g_task, g_reg)]
    expected_context = context.detach() - g_task[-1]
    # Nonzero by a wide margin (gradients of order 1, not rounding).
    assert g_task[-1].abs().sum() > 0

    wrapper = GradDropoutOptimWrapper(
        optimizer=torch.optim.SGD(scores + [context], lr=1.0), lam=1.0,
        seed=7)
    with wrapper.optim_context(model):
        losses, regularization = model.step_losses(images, samples)
    wrapper.update_params(losses['loss_ce'] + losses['loss_sparsity'],
                          regularization=regularization,
                          dropout_params=model.gradient_dropout_parameters())
    # The same forward/backward kernels on the same inputs and the same
    # dropout draws (equal here); allclose's default rtol=1e-5 (context
    # entries reach ~17) plus atol=1e-7 (scores ~0.1, ulp ~7e-9) only let
    # the wrapper add the few float32 terms of the rule in another order.
    for got, want in zip(scores, expected_scores):
        assert torch.allclose(got, want, atol=1e-7)
    assert torch.allclose(context, expected_context, atol=1e-7)


def test_mask_file_given_to_a_method_without_masks(tmp_path):
    path = str(tmp_path / 'm')
    with pytest.raises(ValueError) as info:
        RMTClassifier(backbone=dict(NO_MASKS, mask_file=path),
                      regularizer=None)
    assert str(info.value) == (
        f'Mask file {path!r} given to a model without masks '
        '(mask_targets=None). Evaluate a mask file with the config of the '
        "method that trained it (one with masks), and this method's runs "
        'with their checkpoint (epoch_N.pth).')
