"""Registered names follow one rule (rmt_mm/registry.py): every type rmt_mm
registers is called ``RMT<Name>``; the old names build the same thing and
warn, naming the new one."""
from typing import Dict, Iterator, Tuple
from unittest import mock

import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_module
import pytest
import torch
from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registries
from rmt_testing import TINY_VIT

import rmt_mm  # noqa: F401  (registers components)
from rmt_mm.registry import DEPRECATED_NAMES, PREFIX, current_name, register


def registries() -> Iterator[Registry]:
    """mmpretrain's registries, each once."""
    seen = set()
    for value in vars(mmpretrain_registries).values():
        if isinstance(value, Registry) and id(value) not in seen:
            seen.add(id(value))
            yield value


def rmt_entries() -> Iterator[Tuple[Registry, str, object]]:
    """``(registry, name, object)`` of everything rmt_mm registered."""
    for registry in registries():
        for name, obj in registry.module_dict.items():
            if getattr(obj, '__module__', '').startswith('rmt_mm'):
                yield registry, name, obj


def registry_of(name: str) -> Registry:
    return next(r for r, n, _ in rmt_entries() if n == name)


def test_every_registered_name_starts_with_the_prefix():
    names = [name for _, name, _ in rmt_entries()
             if name not in DEPRECATED_NAMES]
    assert len(names) >= 36
    assert [n for n in names if not n.startswith(PREFIX)] == []
    # The aliases are all the names outside the rule, and lead to it.
    assert {n for _, n, _ in rmt_entries()} - set(names) == set(
        DEPRECATED_NAMES)
    assert all(new in names for new in DEPRECATED_NAMES.values())


def build_args(old: str) -> Dict:
    """Arguments that build ``old``'s class cheaply on a CPU."""
    if old.startswith('FewShot'):
        return dict(data_root='nowhere', split='test', lazy_init=True)
    if old == 'MaskedCLIP':
        return dict(arch=TINY_VIT)
    if old == 'ParameterSelector':
        return dict(mode='fixed')
    return dict(optimizer=torch.optim.SGD([torch.zeros(1)], lr=1.0),
                lam=0.5)


@pytest.mark.parametrize('old, new', sorted(DEPRECATED_NAMES.items()))
def test_old_names_build_the_same_thing_and_warn(old, new):
    registry = registry_of(new)
    # The Amp wrapper asks for an accelerator; nothing it builds uses one.
    with mock.patch.object(amp_module, 'is_cuda_available',
                           return_value=True):
        with pytest.warns(FutureWarning) as warned:
            built = registry.build(dict(type=old, **build_args(old)))
        expected = registry.build(dict(type=new, **build_args(old)))
    assert type(built) is type(expected) is registry.get(new)
    # (torch warns about its CUDA GradScaler too.)
    assert [str(w.message) for w in warned
            if 'type name' in str(w.message)] == [
        f"The type name '{old}' is deprecated: write type='{new}' "
        '(rmt_mm registers every type as RMT<Name>).']
    assert current_name(old) == current_name(new) == new
    assert current_name(f'mmpretrain.{old}') == f'mmpretrain.{new}'


def test_an_alias_passes_every_argument_on(monkeypatch):
    monkeypatch.setattr('rmt_mm.registry.DEPRECATED_NAMES', {})
    registry = Registry('toy')

    @register(registry, 'RMTToy', old_name='Toy')
    class Toy:

        def __init__(self, *args, **kwargs):
            self.args, self.kwargs = args, kwargs

    with pytest.warns(FutureWarning, match="write type='RMTToy'"):
        toy = registry.build(dict(type='Toy', size=3))
    assert type(toy) is Toy and toy.kwargs == dict(size=3)
    assert registry.get('RMTToy') is Toy


def test_old_names_in_configs_still_pass_the_train_checks():
    from mmengine.config import Config

    from rmt_mm.runs.launch import check_train_config, enable_amp
    from rmt_mm.runs.recipe import dataset_name
    cfg = Config(dict(
        model=dict(backbone=dict(type='MaskedCLIP')),
        train_dataloader=dict(dataset=dict(type='FewShotDTD')),
        optim_wrapper=dict(type='GradDropoutOptimWrapper')))
    check_train_config(cfg)
    assert dataset_name('FewShotDTD') == dataset_name('RMTFewShotDTD') == \
        'dtd'
    enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'RMTAmpGradDropoutOptimWrapper'
