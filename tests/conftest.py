"""Shared fixtures (helpers live in rmt_testing.py)."""
import gc
import itertools
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from rmt_testing import (DEMO_CONFIG, TINY_VIT, make_image_folder,
                         save_random_weights, sweep_steps_in_process,
                         write_tiny_config)

import rmt_mm  # noqa: F401


def _default_threads() -> int:
    # The CI machine has 2 cores: one torch thread per pytest-xdist worker
    # when `make test` runs two, else two. OMP_NUM_THREADS overrides both;
    # the suite must pass with 1 and with 2.
    if 'OMP_NUM_THREADS' in os.environ:
        return int(os.environ['OMP_NUM_THREADS'])
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', 1))
    return max(1, 2 // workers)


@pytest.fixture(autouse=True, scope='session')
def _session_threads():
    # Before any shared run is trained, so that tests can repeat its steps
    # with the same thread count.
    torch.set_num_threads(_default_threads())


@pytest.fixture(autouse=True)
def _small_threads():
    torch.set_num_threads(_default_threads())


@pytest.fixture
def tiny_vit():
    return dict(TINY_VIT)


@pytest.fixture
def vit_weights(tmp_path):
    return save_random_weights(TINY_VIT, str(tmp_path / 'tiny_vit.pt'))


@pytest.fixture
def image_folder(tmp_path):
    return make_image_folder(str(tmp_path / 'images'))


@pytest.fixture(scope='session')
def tiny_world(tmp_path_factory):
    """One image folder, random tiny-CLIP weights and an R-AMT config on
    them, shared by the whole session (read-only)."""
    root = tmp_path_factory.mktemp('tiny_world')
    data = make_image_folder(str(root / 'data'))
    weights = save_random_weights(TINY_VIT, str(root / 'clip.pt'))
    base = write_tiny_config(str(root / 'base.py'), data)
    config = root / 'tiny.py'
    config.write_text(f'_base_ = [{base!r}]\n'
                      f'model = dict(backbone=dict(pretrained={weights!r}))\n')
    return SimpleNamespace(root=root, data=data, weights=weights,
                           config=str(config))


@pytest.fixture(scope='session')
def digits_world(tmp_path_factory):
    """The demo's digits tree (``data``) and a random CLIP of the demo
    config's architecture (``weights``), written once per session. Tests
    read them; the tools cache few-shot split files in the tree."""
    from rmt_mm.runs import demo
    root = tmp_path_factory.mktemp('digits')
    data, weights = str(root / 'data'), str(root / 'tiny_clip_random.pt')
    demo.write_digits(data)
    demo.write_random_clip(weights, DEMO_CONFIG)
    return SimpleNamespace(data=data, weights=weights)


@pytest.fixture
def steps_in_process():
    """Sweeps run their steps' tools in this process (one at a time)."""
    with sweep_steps_in_process():
        yield


_RUN_IDS = itertools.count()


@pytest.fixture(scope='session')
def run_tiny(tiny_world, tmp_path_factory):
    """Trains the tiny config in-process and returns the run (work dir,
    model, number of updates); runs are cached by name for the session.

    ``run_tiny(name, cfg_options=None, custom_hook_args=None)``: dotted
    config entries, and ``{hook type: arguments}`` for custom hooks.
    """
    from mmengine.runner import Runner

    from rmt_mm.fileio.config_file import read_config
    from rmt_mm.runs.launch import (apply_auto_scale_lr,
                                    apply_global_batch_size,
                                    check_train_config)
    runs = {}

    def run(name: str, cfg_options: dict = None,
            custom_hook_args: dict = None):
        if name in runs:
            return runs[name]
        cfg = read_config(tiny_world.config)
        cfg.work_dir = str(tmp_path_factory.mktemp(f'run_{name}'))
        cfg.experiment_name = f'tiny_{name}_{next(_RUN_IDS)}'
        cfg.log_level = 'WARNING'
        cfg.merge_from_dict(cfg_options or {})
        for hook in cfg.custom_hooks:
            hook.update((custom_hook_args or {}).get(hook['type'], {}))
        check_train_config(cfg)
        apply_global_batch_size(cfg, 1)
        apply_auto_scale_lr(cfg, 1)
        runner = Runner.from_cfg(cfg)
        runner.train()
        runs[name] = SimpleNamespace(
            work_dir=Path(cfg.work_dir),
            model=runner.model, runner=runner, cfg=cfg,
            updates=runner.optim_wrapper.num_updates)
        return runs[name]

    return run


@pytest.fixture(scope='session')
def trained_run(run_tiny):
    """The tiny config's R-AMT run with default settings."""
    return run_tiny('default')


#: Files that take longest, started first so that `make test`'s two workers
#: finish together instead of one waiting for the other's long tail.
SLOW_FIRST = ('test_sweep_launchers.py', 'test_distributed.py',
              'test_readme_flows.py')


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        name = item.path.name
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(
            SLOW_FIRST)
    items.sort(key=rank)


def pytest_collection_finish(session):
    # Every test module is imported now (torch, mmengine, mmpretrain: some
    # 400k objects). mmengine collects garbage each time it builds a dataset
    # (0.3-0.5 s each over those objects, a few hundred times in the
    # suite); frozen, they are left out of every collection.
    gc.freeze()
