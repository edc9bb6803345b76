import pytest
import torch
from mmpretrain.structures import DataSample
from rmt_testing import TINY_VIT

from rmt_mm.engine import GradDropoutOptimWrapper
from rmt_mm.models import RMTClassifier


def make_model(seed: int = 0) -> RMTClassifier:
    torch.manual_seed(seed)
    return RMTClassifier(
        backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT),
        classnames=('a', 'b', 'c')).train()


def batch(n: int, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, 32, 32, generator=g)
    labels = torch.randint(0, 3, (n, ), generator=g)
    return images, [DataSample().set_gt_label(int(k)) for k in labels]


def scores(model):
    return [s.detach().clone() for _, s in model.backbone.masks.items()]


def step(model, wrapper, images, samples):
    """RMTClassifier's step on a preprocessed batch."""
    model.train_batch(images, samples, wrapper)


def wrapper_for(model, **kwargs):
    params = [s for _, s in model.backbone.masks.items()]
    return GradDropoutOptimWrapper(
        optimizer=torch.optim.SGD(params, lr=1.0), **kwargs)


def drop_some_weights(model):
    """At step 0 the student equals the teacher and r is 0; dropping some
    weights first lets the two gradients conflict."""
    with torch.no_grad():
        for _, s in model.backbone.masks.items():
            s.mul_((torch.rand(s.shape) > 0.3).float())


def reference_dropout(g, r, uniform):
    """method.md section 5 with lambda 1, written out independently."""
    keep_prob = (1 + torch.sign(g) * (g + r) /
                 (g.abs() + r.abs() + 1e-8)) / 2
    return g * (keep_prob > uniform)


def expected_update(model, images, samples, seed, update):
    """Update ``update`` (0-based) of a run seeded ``seed``, recomputed with
    plain autograd: the draws come from a generator seeded with
    ``seed * 1_000_003 + update``, consumed tensor by tensor in mask order.

    Returns:
        ``(gradients the optimiser must receive, share of entries dropped)``.
    """
    losses, regularization = model.step_losses(images, samples)
    params = [s for _, s in model.backbone.masks.items()]
    g = torch.autograd.grad(losses['loss_ce'] + losses['loss_sparsity'],
                            params, retain_graph=True)
    r = torch.autograd.grad(regularization, params)
    generator = torch.Generator().manual_seed(seed * 1_000_003 + update)
    final = [reference_dropout(gi, ri, torch.rand(gi.shape,
                                                  generator=generator))
             for gi, ri in zip(g, r)]
    dropped = sum(int(((f == 0) & (gi != 0)).sum())
                  for f, gi in zip(final, g))
    return final, dropped / sum(gi.numel() for gi in g)


def record_step_gradients(wrapper):
    """Copies of the gradients the optimiser steps with, one list per
    update."""
    seen = []
    wrapper.optimizer.register_step_pre_hook(
        lambda optimizer, args, kwargs: seen.append(
            [p.grad.clone() for p in optimizer.param_groups[0]['params']]))
    return seen


def test_each_update_applies_the_rule_with_its_own_draws():
    """Updates 0, 1 and 2 each equal the rule applied with the draws of
    (seed, update): a generator that ignored the update count would freeze
    every entry's drop decision for the whole run."""
    model = make_model()
    drop_some_weights(model)
    wrapper = wrapper_for(model, lam=1.0, seed=5)
    seen = record_step_gradients(wrapper)
    images, samples = batch(4)
    dropped_patterns = []
    for update in range(3):
        expected, share = expected_update(model, images, samples, 5, update)
        step(model, wrapper, images, samples)
        # The wrapper and the reference differentiate the same loss with the
        # same kernels on the same inputs in this process: equal in fact,
        # and so are the keep decisions. rtol=1e-5 (atol=1e-12 for exact
        # zeros) only allows autograd another accumulation order; the share
        # divides the same integers (approx's default rel=1e-6).
        for got, want in zip(seen[update], expected):
            assert torch.allclose(got, want, rtol=1e-5, atol=1e-12)
        assert wrapper.message_hub.get_scalar(
            'train/grad_dropped').current() == pytest.approx(share)
        dropped_patterns.append(torch.cat(
            [(want == 0).flatten() for want in expected]))
    assert wrapper.num_updates == 3
    # Boolean patterns, exact (thousands of entries differ between draws).
    assert not torch.equal(dropped_patterns[0], dropped_patterns[1])


@pytest.mark.parametrize('lam', [0.0, 1.0])
def test_accumulation_equals_one_big_batch(lam):
    # With lam > 0 the distillation gradients are summed over the
    # micro-batches as well, and the update's draws are those of one batch.
    # float64: one batch of 8 and two of 4 sum the gradients in another
    # order. In float32 (~1e-7 relative apart) a keep probability a hair
    # from its uniform (the closest here is 7e-6 away) could flip on another
    # CPU and move an entry by a whole gradient; in float64 (~1e-16) it
    # cannot. atol=1e-6 on scores ~0.01-0.1 is far above float64 rounding
    # and far below a real difference (a missed micro-batch: ~1e-2).
    images, samples = batch(8)
    images = images.double()
    big, small = make_model().double(), make_model().double()
    for model in (big, small):
        torch.manual_seed(5)
        drop_some_weights(model)
    step(big, wrapper_for(big, lam=lam), images, samples)
    wrapper = wrapper_for(small, lam=lam, accumulative_counts=2)
    wrapper.initialize_count_status(small, 0, 2)
    before = [s.clone() for s in scores(small)]
    step(small, wrapper, images[:4], samples[:4])
    # Exact: no update yet, the scores are untouched.
    assert all(torch.equal(a, b) for a, b in zip(scores(small), before))
    step(small, wrapper, images[4:], samples[4:])
    for a, b in zip(scores(small), scores(big)):
        assert torch.allclose(a, b, atol=1e-6)


def test_a_single_masked_weight_trains_with_dropout():
    # A selection of one weight (ParameterSelector with a small budget).
    torch.manual_seed(0)
    name = 'visual.transformer.resblocks.0.attn.out_proj.weight'
    model = RMTClassifier(
        backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT,
                      mask_targets=[name]),
        classnames=('a', 'b', 'c')).train()
    drop_some_weights(model)
    before = scores(model)
    step(model, wrapper_for(model, lam=1.0), *batch(4))
    # The update moves scores by gradients of order 1e-2, not rounding.
    assert not torch.equal(scores(model)[0], before[0])


def test_clipping_applies_to_the_dropped_gradient():
    model = make_model()
    wrapper = wrapper_for(model, lam=1.0, clip_grad=dict(max_norm=1e-3))
    before = scores(model)
    step(model, wrapper, *batch(4))
    moved = torch.cat([(a - b).flatten()
                       for a, b in zip(scores(model), before)])
    # clip_grad_norm_ scales to max_norm * norm / (norm + 1e-6): 1e-6 / norm
    # relative below 1e-3 (gradient norms here are >> 1e-3), plus float32
    # rounding of sums (~1e-6 relative): rel=1e-3 leaves margin.
    assert moved.norm().item() == pytest.approx(1e-3, rel=1e-3)


def test_missing_regulariser_is_a_clear_error():
    model = RMTClassifier(
        backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT),
        classnames=('a', 'b', 'c'), regularizer=None).train()
    wrapper = wrapper_for(model, lam=0.5)
    with pytest.raises(ValueError, match='optim_wrapper.lam=0'):
        step(model, wrapper, *batch(2))
    plain = wrapper_for(model, lam=0.0)
    step(model, plain, *batch(2))  # AMT needs no regulariser


def test_update_count_is_saved_for_exact_resume():
    model = make_model()
    wrapper = wrapper_for(model, lam=1.0)
    step(model, wrapper, *batch(2))
    state = wrapper.state_dict()
    restored = wrapper_for(make_model(), lam=1.0)
    restored.load_state_dict(state)
    assert restored.num_updates == 1
    # A checkpoint written before the count was saved starts the draws
    # from update 0, whatever the wrapper had counted.
    del state['grad_dropout_updates']
    restored.load_state_dict(state)
    assert restored.num_updates == 0


def test_lambda_is_validated():
    with pytest.raises(ValueError, match='lambda'):
        wrapper_for(make_model(), lam=2.0)


def test_default_seed_is_the_runs_seed():
    model = make_model()
    torch.manual_seed(1234)  # what the Runner does with randomness.seed
    assert wrapper_for(model, lam=1.0).seed == 1234


def test_amp_wrapper_scales_both_gradients_consistently():
    """With a loss scale of 1024 the AMP wrapper makes the very update of
    the plain one (the GPU-only autocast is left out: this is about
    scaling)."""
    from unittest import mock

    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_module
    from mmengine.optim import AmpOptimWrapper, OptimWrapper

    from rmt_mm.engine import AmpGradDropoutOptimWrapper
    plain, amp = make_model(), make_model()
    with torch.no_grad():
        for (_, a), (_, b) in zip(plain.backbone.masks.items(),
                                  amp.backbone.masks.items()):
            keep = (torch.rand(a.shape) > 0.3).float()
            a.mul_(keep)
            b.mul_(keep)
    images, samples = batch(4)
    step(plain, wrapper_for(plain, lam=1.0, seed=3), images, samples)
    with mock.patch.object(amp_module, 'is_cuda_available',
                           return_value=True):
        wrapper = AmpGradDropoutOptimWrapper(
            optimizer=torch.optim.SGD(
                [s for _, s in amp.backbone.masks.items()], lr=1.0),
            lam=1.0, seed=3)
    wrapper.loss_scaler = torch.amp.GradScaler('cpu', init_scale=1024.)
    with mock.patch.object(AmpOptimWrapper, 'optim_context',
                           OptimWrapper.optim_context):
        step(amp, wrapper, images, samples)
    # Exact: the scale 1024 is a power of two, scaling a float by it and
    # back commutes with rounding (no under/overflow at these magnitudes),
    # and both runs use the same kernels on the same inputs.
    assert wrapper.loss_scaler.get_scale() == 1024.
    for a, b in zip(scores(plain), scores(amp)):
        assert torch.equal(a, b)


def test_the_last_incomplete_accumulation_updates_too():
    # 4 iterations with accumulative_counts=3: one update after the third
    # and one after the fourth (mmengine's last-iterations rule).
    model = make_model()
    wrapper = wrapper_for(model, lam=1.0, accumulative_counts=3)
    wrapper.initialize_count_status(model, 0, 4)
    for i in range(4):
        step(model, wrapper, *batch(2, seed=i))
        assert wrapper.num_updates == (i + 1) // 3 + (i == 3)


def test_default_lambda_is_one():
    # method.md: lambda 1 drops every conflicting entry with its
    # probability; configs that give no lam get that. (A stored constant:
    # exact.)
    assert wrapper_for(make_model()).lam == 1.0


def test_gradients_are_averaged_over_processes(monkeypatch):
    """Two processes: the update steps with the mean of both processes'
    gradients (``all_reduce`` faked: the other process's gradients are
    ``other``)."""
    import rmt_mm.engine.grad_dropout as grad_dropout

    # float64 for the reason given in test_accumulation_equals_one_big_batch:
    # two halves and the whole batch sum gradients in other orders.
    images, samples = batch(4)
    images = images.double()
    here, there, single = (make_model().double(), make_model().double(),
                           make_model().double())
    for model in (here, there, single):
        torch.manual_seed(5)
        drop_some_weights(model)
    # What the other process would send: its own task and distillation
    # gradients on the second half of the batch.
    recorded = []
    monkeypatch.setattr(grad_dropout.GradDropoutOptimWrapper, '_global_mean',
                        staticmethod(lambda grads: recorded.append(
                            [g.clone() for g in grads]) or grads))
    step(there, wrapper_for(there, lam=1.0, seed=3), images[2:], samples[2:])
    other = torch.cat([g.reshape(-1) for g in recorded[0]])
    monkeypatch.undo()

    def fake_all_reduce(flat, op):
        assert op == 'mean'
        flat.add_(other).div_(2)

    monkeypatch.setattr(grad_dropout, 'get_world_size', lambda: 2)
    monkeypatch.setattr(grad_dropout, 'all_reduce', fake_all_reduce)
    step(here, wrapper_for(here, lam=1.0, seed=3), images[:2], samples[:2])
    monkeypatch.undo()
    # One process, the whole batch: the mean of the two halves' losses.
    step(single, wrapper_for(single, lam=1.0, seed=3), images, samples)
    for a, b in zip(scores(here), scores(single)):
        assert torch.allclose(a, b, atol=1e-6)


def test_the_models_train_step_hands_both_losses_over():
    """RMTClassifier.train_step (preprocessing, forward, losses, update)
    makes the update of an explicit hand-off of both losses."""
    from mmpretrain.models.utils import ClsDataPreprocessor
    owned, manual = make_model(), make_model()
    for model in (owned, manual):
        torch.manual_seed(4)
        drop_some_weights(model)
    images, samples = batch(4)
    data = dict(inputs=list((images * 255).round().to(torch.uint8)),
                data_samples=samples)
    log_vars = owned.train_step(data, wrapper_for(owned, lam=1.0, seed=3))
    assert set(log_vars) >= {'loss', 'loss_ce', 'reg_distill', 'sparsity'}
    preprocessed = ClsDataPreprocessor()(data, True)
    wrapper = wrapper_for(manual, lam=1.0, seed=3)
    losses, regularization = manual.step_losses(
        preprocessed['inputs'], preprocessed['data_samples'])
    wrapper.update_params(losses['loss_ce'] + losses['loss_sparsity'],
                          regularization=regularization,
                          dropout_params=manual.gradient_dropout_parameters())
    # The same kernels on the same inputs in this process: exact.
    for a, b in zip(scores(owned), scores(manual)):
        assert torch.equal(a, b)


def test_a_plain_optim_wrapper_gets_the_task_loss_alone():
    from mmengine.optim import OptimWrapper
    model = make_model()
    images, samples = batch(2)
    data = dict(inputs=list((images * 255).round().to(torch.uint8)),
                data_samples=samples)
    before = scores(model)
    model.train_step(data, OptimWrapper(torch.optim.SGD(
        [s for _, s in model.backbone.masks.items()], lr=1.0)))
    # Gradients of order 1e-2 move the scores, well above rounding.
    assert not all(torch.equal(a, b) for a, b in zip(scores(model), before))


def test_no_dropout_statistic_without_dropout():
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('test_no_dropout_statistic')
    for lam, logged in ((0.0, False), (1.0, True)):
        model = make_model()
        wrapper = wrapper_for(model, lam=lam)
        wrapper.message_hub = hub
        hub.log_scalars.pop('train/grad_dropped', None)
        step(model, wrapper, *batch(2))
        assert ('train/grad_dropped' in hub.log_scalars) == logged
