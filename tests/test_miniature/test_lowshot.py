"""The low-shot study's schedule variants: learning rates that sum to a
multiple of the distance a score moves to flip."""
import math

import pytest
from mmengine.config import Config
from rmt_miniature.lowshot import (flip_distance, low_shot_epochs,
                                   train_set_size)


def cosine_sum(lr, epochs, updates):
    """Independent: the cosine formula summed update by update."""
    return sum(lr * (1 + math.cos(math.pi * e / epochs)) / 2
               for e in range(epochs) for _ in range(updates))


def margin_epochs(lr, updates, margin, min_epochs=30):
    """Independent: the fewest epochs, at least ``min_epochs``, whose
    cosine learning rates sum to ``margin`` flip distances (5e-3)."""
    return next(e for e in range(min_epochs, 100_000)
                if cosine_sum(lr, e, updates) >= margin * 5e-3 - 1e-12)


@pytest.mark.parametrize('margin', [2.0, 4.0])
def test_low_shot_epochs_reach_the_margin_and_no_more(margin):
    # DTD 1 shot: 47 images, 1 update per epoch at lr 8e-5.
    epochs = low_shot_epochs(8e-5, 1, 5e-3, 30, margin)
    assert epochs == margin_epochs(8e-5, 1, margin) > 30
    # A run that already reaches it keeps its epochs.
    assert low_shot_epochs(8e-5, 10**4, 5e-3, 30, margin) == 30


def test_flip_distance_reads_the_backbones_init_and_threshold():
    backbone = dict(type='RMTMaskedCLIP', score_init=0.02, threshold=0.004)
    assert flip_distance(Config(dict(model=dict(backbone=backbone)))) == \
        pytest.approx(0.016)
    # MaskedCLIP's defaults (the paper's 1e-2 and 5e-3) where not set.
    for cfg in (dict(), dict(model=dict(type='RMTClassifier')),
                dict(model=dict(backbone=dict(type='RMTMaskedCLIP')))):
        assert flip_distance(Config(cfg)) == pytest.approx(5e-3)


@pytest.mark.parametrize('lr,updates,distance,min_epochs',
                         [(1e-3, 1, 1.6e-3, 1), (1e-3, 3, 5e-3, 1),
                          (8e-5, 5, 5e-3, 2), (2e-4, 2, 7.3e-3, 40)])
def test_low_shot_epochs_are_the_fewest_that_reach_the_margin(
        lr, updates, distance, min_epochs):
    expected = next(e for e in range(min_epochs, 10_000)
                    if cosine_sum(lr, e, updates) >= 3 * distance - 1e-12)
    assert low_shot_epochs(lr, updates, distance, min_epochs, 3.0) == \
        expected


def test_train_set_size_from_classes_and_shots_or_by_counting(monkeypatch):
    import mmpretrain.registry
    built = []
    monkeypatch.setattr(mmpretrain.registry.DATASETS, 'build',
                        lambda cfg: built.append(cfg) or list(range(7)))

    def size(dataset, top=None, model=None):
        return train_set_size(Config(dict(
            data_preprocessor=top, model=model or dict(),
            train_dataloader=dict(dataset=dataset))))

    four_shots = dict(type='RMTFewShotDTD', num_shots=4)
    assert size(four_shots, top=dict(num_classes=10)) == 40
    assert size(four_shots, model=dict(
        data_preprocessor=dict(num_classes=10))) == 40
    assert not built
    # Counted when the config cannot tell: no class count, every image, a
    # class subset, or no shots given.
    assert size(four_shots) == 7
    assert size(dict(type='RMTFewShotDTD', num_shots=-1),
                top=dict(num_classes=10)) == 7
    assert size(dict(four_shots, subsample='base'),
                top=dict(num_classes=10)) == 7
    assert size(dict(type='RMTFewShotDTD'), top=dict(num_classes=10)) == 7
    assert size(dict(type='RMTFewShotDTD', num_shots=0),
                top=dict(num_classes=10)) == 7
    assert len(built) == 5
    assert built[0] == dict(four_shots, pipeline=[], lazy_init=False)
