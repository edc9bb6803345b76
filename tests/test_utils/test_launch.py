import pytest
from mmengine.config import Config
from rmt_testing import REPO

from rmt_mm.utils.launch import (apply_global_batch_size, check_train_config,
                                 enable_amp)

CONFIG = f'{REPO}/configs/rmt/rmt_vitb16_dtd_16shot.py'


def test_amp_keeps_gradient_dropout():
    cfg = Config.fromfile(CONFIG)
    enable_amp(cfg, 'bfloat16')
    assert cfg.optim_wrapper.type == 'AmpGradDropoutOptimWrapper'
    assert cfg.optim_wrapper.lam == 0.3
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    cfg.optim_wrapper.type = 'SomethingElse'
    with pytest.raises(ValueError, match='mixed-precision form'):
        enable_amp(cfg)


@pytest.mark.parametrize('world_size,per_process', [(1, 32), (2, 16),
                                                     (8, 4)])
def test_global_batch_is_split_over_processes(world_size, per_process):
    cfg = Config.fromfile(CONFIG)
    apply_global_batch_size(cfg, world_size)
    assert cfg.train_dataloader.batch_size == per_process


def test_global_batch_that_does_not_split_is_an_error():
    cfg = Config.fromfile(CONFIG)
    with pytest.raises(ValueError, match='cannot be split over 3'):
        apply_global_batch_size(cfg, 3)


def test_shots_seed_and_lambda_follow_cfg_options():
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({'train_dataloader.dataset.num_shots': 4,
                         'train_dataloader.dataset.seed': 2,
                         'optim_wrapper.lam': 1.0})
    check_train_config(cfg)
    assert cfg.train_dataloader.dataset.num_shots == 4
    assert cfg.train_dataloader.dataset.seed == 2


def test_paper_hyper_parameters():
    dtd = Config.fromfile(CONFIG)
    assert dtd.optim_wrapper.optimizer.lr == 8e-5
    assert dtd.train_cfg.max_epochs == 30
    assert dtd.global_batch_size == 32
    assert dtd.auto_scale_lr.base_batch_size == 32
    imagenet = Config.fromfile(
        f'{REPO}/configs/rmt/rmt_vitb16_imagenet_16shot.py')
    assert imagenet.optim_wrapper.optimizer.lr == 3e-5
    assert imagenet.train_cfg.max_epochs == 10
    assert imagenet.optim_wrapper.lam == 1.0
    for name, lam in [('sun397', 1.0), ('food101', 1.0), ('eurosat', 0.3),
                      ('caltech101', 0.3)]:
        cfg = Config.fromfile(f'{REPO}/configs/rmt/rmt_vitb16_{name}_16shot.py')
        assert cfg.optim_wrapper.lam == lam, name
