"""Shared fixtures (helpers live in rmt_testing.py)."""
import pytest
import torch
from rmt_testing import TINY_VIT, make_image_folder, save_random_weights

import rmt_mm  # noqa: F401


@pytest.fixture(autouse=True)
def _small_threads():
    torch.set_num_threads(2)


@pytest.fixture
def tiny_vit():
    return dict(TINY_VIT)


@pytest.fixture
def vit_weights(tmp_path):
    return save_random_weights(TINY_VIT, str(tmp_path / 'tiny_vit.pt'))


@pytest.fixture
def image_folder(tmp_path):
    return make_image_folder(str(tmp_path / 'images'))
