import argparse

import pytest
from mmengine.config import Config
from rmt_testing import REPO

from rmt_mm.runs.launch import (add_common_args, apply_auto_scale_lr,
                                apply_global_batch_size, check_train_config,
                                enable_amp)

CONFIG = f'{REPO}/configs/rmt/rmt_vitb16_dtd_16shot.py'


def test_amp_keeps_gradient_dropout():
    cfg = Config.fromfile(CONFIG)
    enable_amp(cfg, 'bfloat16')
    assert cfg.optim_wrapper.type == 'RMTAmpGradDropoutOptimWrapper'
    assert cfg.optim_wrapper.lam == 'auto'
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    cfg.optim_wrapper.type = 'SomethingElse'
    with pytest.raises(ValueError, match='mixed-precision form'):
        enable_amp(cfg)


@pytest.mark.parametrize('world_size,accumulate,per_process', [
    (1, 1, 32), (2, 1, 16), (8, 1, 4), (2, 2, 8)])
def test_global_batch_is_split_over_processes(world_size, accumulate,
                                              per_process):
    cfg = Config.fromfile(CONFIG)
    cfg.optim_wrapper.accumulative_counts = accumulate
    apply_global_batch_size(cfg, world_size)
    assert cfg.train_dataloader.batch_size == per_process
    # The sampler drops partial batches by the global batch, not by the
    # per-process one.
    assert cfg.train_dataloader.sampler.global_batch_size == 32


def test_global_batch_without_global_batch_size():
    cfg = Config.fromfile(CONFIG)
    cfg.global_batch_size = None
    cfg.train_dataloader.batch_size = 8
    cfg.optim_wrapper.accumulative_counts = 2
    apply_global_batch_size(cfg, 2)
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.train_dataloader.sampler.global_batch_size == 32


def test_global_batch_that_does_not_split_is_an_error():
    cfg = Config.fromfile(CONFIG)
    with pytest.raises(ValueError, match='cannot be split over 3'):
        apply_global_batch_size(cfg, 3)


def scaled_lr(world_size, accumulate, global_batch=32, enable=True):
    cfg = Config.fromfile(CONFIG)
    cfg.global_batch_size = global_batch
    cfg.auto_scale_lr.enable = enable
    cfg.optim_wrapper.accumulative_counts = accumulate
    apply_global_batch_size(cfg, world_size)
    apply_auto_scale_lr(cfg, world_size)
    # mmengine must not scale a second time (it ignores accumulation).
    assert not cfg.auto_scale_lr.enable
    return cfg.optim_wrapper.optimizer.lr


def test_auto_scale_lr_is_off_as_in_the_paper():
    assert not Config.fromfile(CONFIG).auto_scale_lr.enable
    # Exact: the config's float, left as it is (also below: lr and lam
    # values read from configs are copies of the literals).
    assert scaled_lr(2, 2, global_batch=128, enable=False) == 8e-5


@pytest.mark.parametrize('world_size,accumulate', [(1, 1), (2, 1), (1, 2),
                                                   (2, 2)])
def test_auto_scale_lr_counts_processes_and_accumulation(world_size,
                                                         accumulate):
    # The global batch stays 32 however it is split: the paper's rate.
    # (mmengine's own rule, processes x per-process batch, would halve it
    # with 2 accumulation steps.)
    # Python float64 arithmetic (lr * batch / base): an ulp or two, the
    # same on every machine; approx's default rel=1e-6 is ample.
    assert scaled_lr(world_size, accumulate) == pytest.approx(8e-5)
    # 64 images per update: twice the base batch, twice the rate.
    assert scaled_lr(world_size, accumulate, 64) == pytest.approx(16e-5)


def test_launcher_arguments():
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_common_args(parser, 'a=1')
    args = parser.parse_args(['c.py', '--shots', '2', '--seed', '3',
                              '--data-root', '/d', '--local_rank', '1',
                              '--launcher', 'pytorch', '--cfg-options',
                              'a=1'])
    assert (args.shots, args.seed, args.data_root) == (2, 3, '/d')
    assert (args.local_rank, args.launcher) == (1, 'pytorch')
    assert args.cfg_options == {'a': 1}
    assert parser.parse_args(['c.py', '--local-rank=4']).local_rank == 4
    with pytest.raises(SystemExit):
        parser.parse_args(['c.py', '--launcher', 'ssh'])


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
    for name, lam in [('imagenet', 1.0), ('sun397', 1.0), ('food101', 1.0),
                      ('eurosat', 0.3), ('caltech101', 0.3), ('dtd', 0.3)]:
        cfg = Config.fromfile(
            f'{REPO}/configs/rmt/rmt_vitb16_{name}_16shot.py')
        assert cfg.optim_wrapper.lam == 'auto'
        check_train_config(cfg)
        assert cfg.optim_wrapper.lam == lam, name
