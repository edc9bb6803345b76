"""Tip-Adapter(-F): the cache logits, the cache built from the training
split and the alpha/beta search on the validation split only."""
import copy
import os

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import DATASETS, TRANSFORMS
from rmt_testing import TINY_VIT, make_image_folder

from rmt_mm.engine.hooks import RMTCacheAdapterHook
from rmt_mm.engine.hooks.cache_adapter_hook import image_paths
from rmt_mm.models import RMTClassifier, RMTTipAdapter

CLASSES = ('cat', 'dog', 'bird')
SEEN = []


@TRANSFORMS.register_module(force=True)
class _RecordSplit:
    """Notes which images a pipeline loaded (test helper)."""

    def __call__(self, results):
        SEEN.append(results['img_path'])
        return results


def test_logits_follow_the_formula():
    torch.manual_seed(0)
    adapter = RMTTipAdapter(alpha=1.7, beta=5.5)
    keys = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    adapter.build_cache(keys, labels, 3)
    feats = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    clip_logits = torch.randn(4, 3)
    got = adapter(feats, clip_logits)
    f, k = feats.double().numpy(), keys.double().numpy()
    expected = clip_logits.double().numpy().copy()
    for i in range(4):
        for j in range(6):
            affinity = np.exp(-5.5 * (1 - f[i] @ k[j]))
            expected[i, labels[j]] += 1.7 * affinity
    # float32 against float64: logits up to ~6 from a handful of float32
    # ops (8-term dot products, an exp): a few ulp, ~2e-6 at most; atol
    # 1e-5 (plus the default rtol 1e-5) leaves margin.
    assert np.allclose(got.detach().numpy(), expected, atol=1e-5)


def test_empty_cache_names_the_hook():
    with pytest.raises(RuntimeError, match='RMTCacheAdapterHook'):
        RMTTipAdapter()(torch.rand(2, 4), torch.rand(2, 3))


class _Runner:
    """What the hook reads of a Runner."""

    def __init__(self, model, cfg):
        self.model, self.cfg = model, cfg


def make_setup(tmp_path, fine_tune=False, separate_val=True, passes=3):
    data = make_image_folder(str(tmp_path / 'images'), classes=CLASSES)
    if separate_val:  # a val/ folder of its own
        make_image_folder(str(tmp_path / 'val'), classes=CLASSES)
        os.rename(tmp_path / 'val' / 'train', tmp_path / 'images' / 'val')
    torch.manual_seed(0)
    model = RMTClassifier(
        backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT, mask_targets=None),
        adapter=dict(type='RMTTipAdapter', fine_tune_keys=fine_tune,
                     augment_passes=passes, search_steps=(5, 7)),
        regularizer=None,
        data_preprocessor=dict(mean=[127.5] * 3, std=[60.0] * 3))
    record = dict(type='_RecordSplit')
    train_pipeline = [dict(type='LoadImageFromFile'),
                      dict(type='RandomResizedCrop', scale=32,
                           crop_ratio_range=(0.5, 1.0), backend='pillow'),
                      record, dict(type='PackInputs')]
    test_pipeline = [dict(type='LoadImageFromFile'),
                     dict(type='Resize', scale=(32, 32), backend='pillow'),
                     record, dict(type='PackInputs')]
    dataset = dict(type='RMTFewShotImageFolder', data_root=data, num_shots=4,
                   seed=1)
    cfg = Config(dict(
        train_dataloader=dict(batch_size=5, dataset=dict(
            dataset, split='train', pipeline=train_pipeline)),
        val_dataloader=dict(batch_size=5, dataset=dict(
            dataset, split='val', pipeline=test_pipeline)),
        test_dataloader=dict(batch_size=5, dataset=dict(
            dataset, split='test', pipeline=test_pipeline))))
    return model, cfg


def test_cache_keys_average_augmented_passes(tmp_path):
    model, cfg = make_setup(tmp_path)
    model.eval()
    np.random.seed(3)
    RMTCacheAdapterHook().build_cache(_Runner(model, cfg), model)
    # Independent: the same augmented draws, one image at a time.
    np.random.seed(3)
    dataset = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    passes = []
    with torch.no_grad():
        for _ in range(3):
            feats = []
            for i in range(len(dataset)):
                data = model.data_preprocessor(
                    {k: [v] for k, v in dataset[i].items()}, False)
                feats.append(model.backbone.clip.encode_image(data['inputs']))
            passes.append(torch.cat(feats))
    keys = torch.nn.functional.normalize(torch.stack(passes).mean(0), dim=-1)
    # The hook encodes batches of 5, here one image at a time: float32
    # kernels may block and sum otherwise, unit-vector entries agree to
    # ~1e-6; atol 1e-5 leaves margin, a wrong image or pass is off by ~0.1.
    assert torch.allclose(model.adapter.keys, keys, atol=1e-5)
    labels = torch.tensor([dataset.get_data_info(i)['gt_label']
                           for i in range(len(dataset))])
    # Exact: one-hot values, small integers in float32.
    assert torch.equal(model.adapter.values.argmax(1), labels)
    assert model.adapter.values.sum().item() == len(dataset)


def test_search_reads_the_validation_split_only(tmp_path):
    model, cfg = make_setup(tmp_path)
    runner = _Runner(model.eval(), cfg)
    hook = RMTCacheAdapterHook()
    hook.build_cache(runner, model)
    SEEN.clear()
    hook.before_test(runner)  # cache present: search only
    val = DATASETS.build(copy.deepcopy(cfg.val_dataloader.dataset))
    test = DATASETS.build(copy.deepcopy(cfg.test_dataloader.dataset))
    val_paths, test_paths = image_paths(val), image_paths(test)
    assert val_paths and test_paths
    assert set(SEEN) == val_paths and not set(SEEN) & test_paths
    assert bool(model.adapter.searched)

    # Independent grid search on the validation features.
    with torch.no_grad():
        feats, labels = [], []
        for i in range(len(val)):
            data = model.data_preprocessor(
                {k: [v] for k, v in val[i].items()}, False)
            feats.append(torch.nn.functional.normalize(
                model.backbone.clip.encode_image(data['inputs']), dim=-1))
            labels.append(val.get_data_info(i)['gt_label'])
        feats, labels = torch.cat(feats), torch.tensor(labels)
        clip_logits = model.backbone.logit_scale * feats @ \
            model.text_features.t()
        best = (-1, None, None)
        for beta in np.linspace(0.1, 7.0, 7):
            for alpha in np.linspace(0.1, 3.0, 5):
                logits = clip_logits + alpha * torch.exp(
                    -beta * (1 - feats @ model.adapter.keys.t())
                ) @ model.adapter.values
                acc = (logits.argmax(1) == labels).float().mean().item()
                # Equal counts give equal floats (k / 12 rounded alike):
                # ties keep the first pair, as the hook does. The argmaxes
                # are robust: over the whole grid the top two logits of
                # every image are >= 0.013 apart (seeded data and weights),
                # while batched and one-image features differ by ~1e-6.
                if acc > best[0] + 1e-9:
                    best = (acc, alpha, beta)
    # The hook's grid is float32 linspace, this one float64: values <= 7
    # differ by an ulp (~5e-7); abs=1e-5 leaves margin, grid steps are >=
    # 0.7.
    assert float(model.adapter.alpha) == pytest.approx(best[1], abs=1e-5)
    assert float(model.adapter.beta) == pytest.approx(best[2], abs=1e-5)


def test_search_refuses_a_validation_split_that_is_the_test_split(tmp_path):
    # Folder layout without val/: the val split is the test images.
    model, cfg = make_setup(tmp_path, separate_val=False, passes=1)
    with pytest.raises(ValueError, match='shares .* images with the test'):
        RMTCacheAdapterHook().before_test(_Runner(model.eval(), cfg))


def test_cache_adapter_without_training_data(tmp_path):
    model, cfg = make_setup(tmp_path, passes=1)
    cfg.train_dataloader = None
    with pytest.raises(ValueError, match='no train_dataloader'):
        RMTCacheAdapterHook().before_test(_Runner(model.eval(), cfg))


def test_tip_adapter_f_trains_the_keys_only(tmp_path):
    model, cfg = make_setup(tmp_path, fine_tune=True, passes=1)
    RMTCacheAdapterHook().build_cache(_Runner(model, cfg), model)
    model.set_classes(CLASSES, ['a photo of a {}.'])
    model.train()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ['adapter.keys']
    logits = model.logits(torch.rand(2, 3, 32, 32))
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    # Nonzero by a wide margin (gradients of order 1, not rounding).
    assert model.adapter.keys.grad.abs().sum() > 0
    # The cache travels in the checkpoint.
    state = model.state_dict()
    fresh = RMTClassifier(
        backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT, mask_targets=None),
        adapter=dict(type='RMTTipAdapter', fine_tune_keys=True),
        regularizer=None)
    fresh.load_state_dict(state, strict=False)
    # Exact: loading copies the values.
    assert torch.equal(fresh.adapter.keys, model.adapter.keys)
    assert torch.equal(fresh.adapter.values, model.adapter.values)
