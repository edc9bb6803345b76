"""``import rmt_mm`` puts model-index.yml into mmpretrain's model hub:
``list_models`` lists its configs and ``get_model`` builds them, with a
mask file or without (issue 21)."""
import os.path as osp
from typing import Optional

import mmpretrain
import pytest
import torch
import yaml
from mmpretrain.apis.model import ModelHub
from rmt_testing import REPO, TINY_VIT

from rmt_mm.apis.model_hub import register_models
from rmt_mm.fileio import FileRefusedError, load_mask_file
from rmt_mm.models import MaskedCLIP, RMTClassifier

MODEL = 'rmt_vitb16_dtd_16shot'


def index_models() -> dict:
    """``{name: config path}`` of every model the index imports."""
    with open(osp.join(REPO, 'model-index.yml')) as f:
        metafiles = yaml.safe_load(f)['Import']
    models = {}
    for metafile in metafiles:
        with open(osp.join(REPO, metafile)) as f:
            models.update({m['Name']: m['Config']
                           for m in yaml.safe_load(f)['Models']})
    return models


def tiny_kwargs(weights: Optional[str]) -> dict:
    """``get_model`` overrides that swap ViT-B/16 for the tiny CLIP."""
    return dict(backbone=dict(arch=dict(TINY_VIT, _delete_=True),
                              pretrained=weights))


def test_importing_rmt_mm_registers_every_model_once():
    models = index_models()
    assert sorted(mmpretrain.list_models('*rmt*')) == sorted(
        name for name in models if 'rmt' in name)
    for name, config in models.items():
        # Found from any working directory: absolute, in the repository.
        assert ModelHub._models_dict[name].config == osp.join(REPO, config)
    assert register_models()  # a second call registers nothing twice


def test_get_model_without_masks(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = mmpretrain.get_model(MODEL, pretrained=False,
                                 **tiny_kwargs(tiny['weights']))
    assert isinstance(model, RMTClassifier) and not model.training
    assert model.backbone.pretrained == tiny['weights']
    assert all(mask.all() for mask in model.backbone.hard_masks().values())


def test_get_model_loads_a_mask_file(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tiny['masks'][0]
    model = mmpretrain.get_model(MODEL, pretrained=path,
                                 **tiny_kwargs(tiny['weights']))
    expected, _ = load_mask_file(path)
    loaded = model.backbone.hard_masks()
    assert list(loaded) == list(expected)
    # Booleans: exact.
    assert all(torch.equal(loaded[name], expected[name])
               for name in expected)
    assert not all(mask.all() for mask in loaded.values())


def test_a_mask_file_of_other_weights_is_refused(tiny):
    with pytest.raises(FileRefusedError, match='learned on other weights'):
        mmpretrain.get_model(MODEL, pretrained=tiny['masks'][0],
                             **tiny_kwargs(None))  # random weights


def test_get_model_takes_the_classes_a_mask_file_records(tiny, tmp_path):
    clip = MaskedCLIP(arch=TINY_VIT, pretrained=tiny['weights'])
    path = str(tmp_path / 'masks.pth')
    classes = ['red fox', 'cat']
    clip.save_masks(path, inference=dict(model=dict(
        classnames=classes, templates=['a drawing of a {}.'])))
    model = mmpretrain.get_model(MODEL, pretrained=path,
                                 **tiny_kwargs(tiny['weights']))
    assert model.classnames == tuple(classes)
    assert model.head.templates == ('a drawing of a {}.', )
    with torch.no_grad():
        logits = model(torch.rand(1, 3, 32, 32), mode='tensor')
    assert logits.shape == (1, 2)
