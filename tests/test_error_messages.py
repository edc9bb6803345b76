"""The exact text of the core modules' errors.

Users read these to fix their configs, so they are reviewed text: a change
to one must change this file too (and mutation testing counts a changed
message as a mistake no test would otherwise see).
"""
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from rmt_testing import TINY_VIT

from rmt_mm.datasets import RMTGlobalBatchSampler
from rmt_mm.engine import GradDropoutOptimWrapper, gradient_dropout
from rmt_mm.models import RMTClassifier
from rmt_mm.models.masked_clip import _pad_names
from rmt_mm.models.masks import MaskScores
from rmt_mm.utils import FileRefusedError, checkpoint_kind
from rmt_mm.utils.recipe import set_shots_and_seed


def message_of(error: type, fn, *args, **kwargs) -> str:
    with pytest.raises(error) as info:
        fn(*args, **kwargs)
    return str(info.value)


def wrapper_for(model, lam: float = 1.0) -> GradDropoutOptimWrapper:
    return GradDropoutOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=1.0), lam=lam)


def test_gradient_dropout_lambda():
    g = torch.ones(2)
    assert message_of(ValueError, gradient_dropout, g, g, 'auto') == (
        "Gradient dropout lambda 'auto' is resolved from the dataset and "
        'shots by tools/train.py (rmt_mm.utils.recipe.resolve_lam); resolve '
        'it before building the Runner, or give a number.')
    assert message_of(ValueError, gradient_dropout, g, g, 1.5) == (
        'Gradient dropout lambda must be a number in [0, 1], got 1.5. Use 0 '
        'for plain AMT, 1 to drop every conflicting entry (method.md '
        'section 5).')


def test_optim_wrapper_without_its_model_or_regulariser():
    model = RMTClassifier(
        backbone=dict(type='MaskedCLIP', arch=TINY_VIT),
        classnames=('a', 'b'), regularizer=None)
    loss = sum(p.sum() for p in model.parameters() if p.requires_grad)
    assert message_of(RuntimeError, wrapper_for(model).update_params,
                      loss) == (
        'GradDropoutOptimWrapper.update_params must run inside '
        "optim_wrapper.optim_context(model), as mmengine's train_step does.")
    wrapper = wrapper_for(model, lam=0.5)
    with wrapper.optim_context(model):
        assert message_of(RuntimeError, wrapper.update_params, loss) == (
            'Gradient dropout with lam=0.5 needs the regularisation loss: '
            "give RMTClassifier a regularizer (type='RMTZeroShotDistillation')"
            ', or set optim_wrapper.lam=0 for plain AMT.')
    plain = torch.nn.Linear(2, 2)
    wrapper = wrapper_for(plain)
    with wrapper.optim_context(plain):
        assert message_of(TypeError, wrapper.update_params,
                          plain.weight.sum()) == (
            'GradDropoutOptimWrapper needs a model with '
            'pop_regularization_loss() and gradient_dropout_parameters() '
            '(RMTClassifier); got Linear. Use OptimWrapper for other models.')


def test_global_batch_sampler():
    assert message_of(ValueError, RMTGlobalBatchSampler,
                      list(range(8))) == (
        'RMTGlobalBatchSampler needs global_batch_size, the images of one '
        'optimiser update over all processes; tools/train.py sets it from '
        'the top-level global_batch_size, otherwise give '
        'train_dataloader.sampler.global_batch_size=N.')
    with mock.patch('mmengine.dataset.sampler.get_dist_info',
                    return_value=(0, 3)):
        assert message_of(ValueError, RMTGlobalBatchSampler, list(range(8)),
                          global_batch_size=32, seed=0) == (
            'global_batch_size=32 cannot be shared by 3 processes; use a '
            'process count that divides it.')


def test_mask_scores():
    assert message_of(ValueError, MaskScores, {'w': (2, 3)}, init=5e-3,
                      threshold=5e-3) == (
        'The mask score init (0.005) must be above the threshold (0.005), '
        'otherwise the model does not start as zero-shot CLIP.')
    scores = MaskScores({'w': (2, 3)})
    assert message_of(ValueError, scores.set_hard_masks,
                      {'w': torch.ones(3, 2, dtype=torch.bool)}) == (
        "Mask for 'w' has shape (3, 2), the model expects (2, 3).")


def test_long_name_lists_are_cut():
    # Errors that list candidate weight names show at most `limit`.
    assert _pad_names(['a', 'b', 'c'], 2) == 'a\n  b\n  ...'
    assert _pad_names(['a', 'b'], 2) == 'a\n  b'


def test_run_switches():
    cfg = Config(dict(train_dataloader=dict(dataset=dict(type='FewShotDTD'))))
    assert message_of(ValueError, set_shots_and_seed, cfg, shots=0) == (
        '--shots must be positive, got 0.')
    assert message_of(ValueError, set_shots_and_seed, cfg,
                      data_root='/data') == (
        "--data-root: the dataset 'FewShotDTD' has no data_root to move.")


def test_file_that_is_no_checkpoint(tmp_path):
    path = str(tmp_path / 'weights.pt')
    torch.save({'visual.conv1.weight': torch.zeros(1)}, path)
    assert message_of(FileRefusedError, checkpoint_kind, path) == (
        f'{path!r} is neither an rmt_mm mask file (masks_*.pth) nor an '
        'rmt_mm training checkpoint (epoch_*.pth) with mask scores, a class '
        'head or a cache adapter.')
