"""The exact text of the core modules' errors.

Users read these to fix their configs, so they are reviewed text: a change
to one must change this file too (and mutation testing counts a changed
message as a mistake no test would otherwise see).
"""
import json
import logging
import re
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from rmt_testing import TINY_VIT

from rmt_mm.datasets import RMTGlobalBatchSampler
from rmt_mm.engine import GradDropoutOptimWrapper, gradient_dropout
from rmt_mm.fileio import FileRefusedError, checkpoint_kind
from rmt_mm.models import RMTClassifier
from rmt_mm.models.masked_clip import _pad_names
from rmt_mm.models.masks import MaskScores
from rmt_mm.runs.recipe import set_shots_and_seed


def message_of(error: type, fn, *args, **kwargs) -> str:
    with pytest.raises(error) as info:
        fn(*args, **kwargs)
    return str(info.value)


def wrapper_over_every_parameter(model,
                                 lam: float = 1.0) -> GradDropoutOptimWrapper:
    return GradDropoutOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=1.0), lam=lam)


def test_gradient_dropout_lambda():
    g = torch.ones(2)
    assert message_of(ValueError, gradient_dropout, g, g, 'auto') == (
        "Gradient dropout lambda 'auto' is resolved from the dataset and "
        'shots by tools/train.py (rmt_mm.runs.recipe.resolve_lam); resolve '
        'it before building the Runner, or give a number.')
    assert message_of(ValueError, gradient_dropout, g, g, 1.5) == (
        'Gradient dropout lambda must be a number in [0, 1], got 1.5. Use 0 '
        'for plain AMT, 1 to drop every conflicting entry (method.md '
        'section 5).')


def test_optim_wrapper_without_the_regularisation_loss():
    model = RMTClassifier(
        backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT),
        classnames=('a', 'b'), regularizer=None)
    loss = sum(p.sum() for p in model.parameters() if p.requires_grad)
    wrapper = wrapper_over_every_parameter(model, lam=0.5)
    assert message_of(ValueError, wrapper.update_params, loss) == (
        'Gradient dropout with lam=0.5 needs the regularisation loss, which '
        'RMTClassifier.train_step hands over (under DDP through '
        'RMTDistributedDataParallel, the model_wrapper_cfg of '
        'configs/_base_/default_runtime.py); give the classifier a '
        'regularizer, or set optim_wrapper.lam=0 for plain AMT.')


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
    cfg = Config(dict(train_dataloader=dict(
        dataset=dict(type='RMTFewShotDTD'))))
    assert message_of(ValueError, set_shots_and_seed, cfg, shots=0) == (
        '--shots must be positive, got 0.')
    assert message_of(ValueError, set_shots_and_seed, cfg,
                      data_root='/data') == (
        "--data-root: the dataset 'RMTFewShotDTD' has no data_root to move.")


def test_file_that_is_no_checkpoint(tmp_path):
    path = str(tmp_path / 'weights.pt')
    torch.save({'visual.conv1.weight': torch.zeros(1)}, path)
    assert message_of(FileRefusedError, checkpoint_kind, path) == (
        f'{path!r} is neither an rmt_mm mask file (masks_*.pth) nor an '
        'rmt_mm training checkpoint (epoch_*.pth) with mask scores, a class '
        'head or a cache adapter.')


def test_mask_files_that_do_not_fit(tmp_path, monkeypatch):
    from rmt_testing import save_random_weights

    import rmt_mm.models.masked_clip as masked_clip
    from rmt_mm.fileio import load_mask_file
    from rmt_mm.fileio.mask_file import READABLE_VERSIONS
    from rmt_mm.models import MaskedCLIP
    weights = save_random_weights(TINY_VIT, str(tmp_path / 'clip.pt'))
    model = MaskedCLIP(arch=TINY_VIT, pretrained=weights)
    path = str(tmp_path / 'masks.pth')
    model.save_masks(path)
    masks, meta = load_mask_file(path)
    logged = []
    monkeypatch.setattr(masked_clip, 'print_log',
                        lambda msg, logger, level: logged.append(
                            (msg, logger, level)))

    assert message_of(ValueError, model.check_mask_file, masks,
                      dict(meta, arch='ViT-L-14'), path) == (
        f"Mask file {path!r} was trained on arch='ViT-L-14' but this model "
        f'is arch={model.arch!r}. Evaluate it with the config it was '
        'trained with.')
    assert message_of(ValueError, model.check_mask_file,
                      {'visual.nothing': torch.ones(2, dtype=torch.bool)},
                      meta, path) == (
        f"Mask file {path!r} masks 'visual.nothing' with shape (2,), which "
        'this model does not have (its maskable weights: '
        f'{model.candidate_names()[:6]} ...).')

    model.check_mask_file(masks, dict(meta, weights_fingerprint=None), path)
    assert logged == [(
        f'Mask file {path!r} records no fingerprint of its weights (written '
        'before rmt_mm recorded one): cannot check that it belongs to these '
        'weights.', 'current', logging.WARNING)]

    torch.manual_seed(1)
    other = MaskedCLIP(arch=TINY_VIT)
    wrong = (
        f"Mask file {path!r} was learned on other weights than this model's "
        f'(file: pretrained={weights!r}, this model: pretrained=None; the '
        'fingerprints of the masked weights differ; random weights follow '
        'randomness.seed), so its masks would cut the wrong entries.')
    assert message_of(FileRefusedError, other.load_masks, path) == (
        f'{wrong} Load the weights it was learned on, or pass '
        '--allow-other-weights (tools/test.py, tools/export.py) to apply it '
        'anyway.')
    with pytest.raises(FileRefusedError):
        other.check_mask_file(masks, meta, path)
    logged.clear()
    other.load_masks(path, allow_other_weights=True)
    assert logged == [(f'{wrong} Applied anyway (allow_other_weights).',
                       'current', logging.WARNING)]

    torch.save([1, 2], path)
    assert message_of(FileRefusedError, load_mask_file, path) == (
        f'{path!r} is not an rmt_mm mask file (masks_*.pth written by '
        'RMTMaskFileHook or tools/train.py).')
    torch.save(dict(format='rmt_mm.masks', version=99), path)
    assert message_of(FileRefusedError, load_mask_file, path) == (
        f'{path!r} has mask file version 99; this rmt_mm reads versions '
        f'{READABLE_VERSIONS}.')


def test_damaged_mask_files(tmp_path):
    from rmt_mm.fileio import load_mask_file
    from rmt_mm.models import MaskedCLIP
    path = str(tmp_path / 'masks.pth')
    MaskedCLIP(arch=TINY_VIT).save_masks(path)
    payload = torch.load(path, weights_only=True)
    torch.save(dict(payload, checksum='0' * 64), path)
    assert message_of(FileRefusedError, load_mask_file, path) == (
        f'{path!r} is corrupted: its checksum does not match its bits and '
        'metadata, which changed after it was written. Copy it again from '
        'where it came from, or use another mask file of the run '
        '(masks_epoch_N.pth).')
    del payload['masks']
    torch.save(payload, path)
    assert message_of(FileRefusedError, load_mask_file, path) == (
        f"{path!r} is a damaged mask file (KeyError: 'masks'). Copy it again "
        'from where it came from.')


def test_coop_split_files(tmp_path):
    from rmt_mm.datasets.fewshot import read_coop_split_file
    path = tmp_path / 'split_zhou_Fake.json'

    def message(train):
        path.write_text(json.dumps(dict(train=train, val=[], test=[])))
        return message_of(ValueError, read_coop_split_file, str(path))

    assert message([['a.jpg', 0, 'cat'], ['b.jpg', 0, 'dog']]) == (
        f"{path}: label 0 is named both 'cat' and 'dog'.")
    assert message([['a.jpg', 0, 'c0']] + [[f'{k}.jpg', k, f'c{k}']
                                           for k in range(100, 111)]) == (
        f'{path}: labels must be 0..n-1; the labels '
        '[1, 2, 3, 4, 5, 6, 7, 8, 9, 10] have no item.')


def test_files_refused_by_safe_loading(tmp_path):
    import argparse

    from rmt_mm.fileio import content_checksum, safe_load
    path = str(tmp_path / 'file.pth')
    assert message_of(FileNotFoundError, safe_load, path) == (
        f'{path!r} does not exist.')
    open(path, 'wb').close()
    assert message_of(FileRefusedError, safe_load, path) == (
        f'{path!r} is empty (0 bytes), e.g. from an interrupted copy: copy '
        'or download it again.')
    with open(path, 'wb') as f:
        f.write(b'x')
    assert message_of(FileRefusedError, safe_load, path) == (
        f'{path!r} cannot be read (it does not start like a PyTorch file): '
        'it is truncated, corrupted or not a PyTorch file. Copy it again or '
        'use another file.')
    torch.save({'args': argparse.Namespace(lr=1)}, path)
    assert re.fullmatch(
        re.escape(f'Refused to load {path!r}: it asks to import the Python '
                  'object ') + r"'[\w.]*Namespace'" + re.escape(
                      ', which could run code; rmt_mm reads only tensors and '
                      'plain data. Do not use this file unless you made it '
                      'yourself.'),
        message_of(FileRefusedError, safe_load, path))
    # What a checksum cannot cover, named by where it sits.
    assert message_of(TypeError, content_checksum, object()) == (
        '/ holds a builtins.object; files rmt_mm writes hold only tensors '
        'and plain data (dict, list, tuple, str, numbers).')
    assert message_of(TypeError, content_checksum,
                      {'meta': [1, object()]}).startswith(
        '/meta/1 holds a builtins.object;')
