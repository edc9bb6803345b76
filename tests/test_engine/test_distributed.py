"""Multi-process training on CPU (gloo): replica-identical masks, equality
with single-process training on the same global batch, and a torchrun run of
tools/train.py."""
import os
import os.path as osp
import socket
import subprocess
import sys
import time

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from mmengine.config import Config
from mmengine.dist import all_gather
from mmpretrain.structures import DataSample
from rmt_testing import (REPO, TINY_VIT, load_tool, make_image_folder,
                         run_tool, write_tiny_config)

from rmt_mm.engine import GradDropoutOptimWrapper, RMTDistributedDataParallel
from rmt_mm.fileio.mask_file import load_mask_file
from rmt_mm.models import RMTClassifier

CLASSES = ('cat', 'dog', 'bird')
WORLD_SIZE = 2
PER_RANK = 4
STEPS = 4
SEED = 3
THRESHOLD = 5e-3
# Two processes and one process sum the same terms in another order: float32
# gradients ~1e-7 relative apart, which Adam's per-entry normalisation turns
# into score differences of up to 2e-7 here (scores ~1e-2, lr 5e-3). A real
# fault (no all-reduce, other draws, another lam) moves scores by ~lr.
SUM_ORDER_ATOL = 5e-7
# Another CPU rounds otherwise: an entry whose keep probability (or Adam
# step) sits a hair from a decision may go the other way and diverge by ~lr.
# Such entries are rare (none here); at most 0.1% may differ, while the
# faults above change >1% of the masks (188 entries of 14336 for lam 0.3
# instead of 1, 2288 without the all-reduce) and nearly every score.
AGREEING_SHARE = 0.999
# name -> dropout strength; every run starts from the same weights and data.
RUNS = {'lam1': 1.0, 'lam03': 0.3, 'lam0': 0.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def build_model() -> RMTClassifier:
    torch.manual_seed(0)
    return RMTClassifier(
        backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT,
                      threshold=THRESHOLD),
        classnames=CLASSES,
        data_preprocessor=dict(
            mean=[122.770938, 116.7460125, 104.09373615],
            std=[68.5005327, 66.6321579, 70.32316305],
            to_rgb=True))


def build_optim_wrapper(model: torch.nn.Module,
                        lam: float) -> GradDropoutOptimWrapper:
    # lr large enough that scores (init 1e-2, threshold 5e-3) cross.
    params = [p for p in model.parameters() if p.requires_grad]
    return GradDropoutOptimWrapper(
        optimizer=torch.optim.Adam(params, lr=5e-3), lam=lam, seed=SEED)


def global_batch(step: int, rank: int = 0, world_size: int = 1) -> dict:
    """Rank ``rank``'s share of the global batch of ``step`` (the whole
    global batch for ``world_size=1``), as a dataloader would give it."""
    generator = torch.Generator().manual_seed(1000 + step)
    total = PER_RANK * WORLD_SIZE
    labels = torch.randint(0, len(CLASSES), (total, ), generator=generator)
    images = torch.randint(0, 90, (total, 3, 32, 32), generator=generator)
    for i, label in enumerate(labels):
        images[i, label] += 140
    share = slice(rank * total // world_size, (rank + 1) * total // world_size)
    return dict(
        inputs=images[share].to(torch.uint8),
        data_samples=[
            DataSample().set_gt_label(int(k)) for k in labels[share]
        ])


def final_state(model: RMTClassifier) -> torch.Tensor:
    """``(2, N)``: all mask scores and the model's hard masks, flattened."""
    backbone = model.backbone
    scores = torch.cat([s.detach().reshape(-1) for _, s in
                        backbone.masks.items()])
    masks = torch.cat([m.reshape(-1) for m in backbone.hard_masks().values()])
    return torch.stack([scores, masks.to(scores.dtype)])


def _worker(rank: int, port: int, out_file: str) -> None:
    torch.set_num_threads(1)
    torch_dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=WORLD_SIZE)
    try:
        results = {}
        for name, lam in RUNS.items():
            # As the Runner wraps models (configs/_base_/default_runtime.py).
            model = RMTDistributedDataParallel(
                module=build_model(), device_ids=None, broadcast_buffers=False)
            optim_wrapper = build_optim_wrapper(model, lam)
            for step in range(STEPS):
                model.train_step(
                    global_batch(step, rank, WORLD_SIZE), optim_wrapper)
            results[name] = torch.stack(all_gather(final_state(model.module)))
        if rank == 0:
            torch.save(results, out_file)
    finally:
        torch_dist.destroy_process_group()


@pytest.fixture(scope='module')
def two_process_scores(tmp_path_factory):
    """``{run: (rank, 2, N)}``: each rank's :func:`final_state`,
    all-gathered."""
    out_file = str(tmp_path_factory.mktemp('ddp') / 'scores.pth')
    # fork: the workers reuse this process's imports (spawn re-imports
    # torch, mmengine and mmpretrain in each worker, ~15 s on 2 cores).
    workers = mp.start_processes(
        _worker,
        args=(free_port(), out_file),
        nprocs=WORLD_SIZE,
        join=False,
        start_method='fork')
    deadline = time.monotonic() + 120
    while not workers.join(timeout=1):
        if time.monotonic() > deadline:
            for process in workers.processes:
                process.kill()
            pytest.fail('the gloo workers did not finish within 120 s')
    return torch.load(out_file)


@pytest.fixture(scope='module')
def one_process_scores():
    """The same runs on one process that sees the whole global batch."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results = {}
        for name, lam in RUNS.items():
            model = build_model()
            optim_wrapper = build_optim_wrapper(model, lam)
            for step in range(STEPS):
                model.train_step(global_batch(step), optim_wrapper)
            results[name] = final_state(model)
        return results
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize('run', ['lam1', 'lam03'])
def test_masks_identical_across_ranks(two_process_scores, run):
    (scores0, masks0), (scores1, masks1) = two_process_scores[run]
    # The lr moves scores across the threshold: masks really trained
    # (~5750 of 14336 entries dropped, a wide margin).
    assert (masks0 == 0).sum() > 0
    # Exact by construction: the all-reduce hands both ranks the same bits,
    # and each applies the same update with the same draws.
    assert torch.equal(masks0, masks1)
    assert torch.equal(scores0, scores1)


@pytest.mark.parametrize('run', ['lam0', 'lam1'])
def test_two_processes_equal_one_process_on_global_batch(
        two_process_scores, one_process_scores, run):
    """``g`` and ``r`` are global-batch means, and the dropout draws depend
    only on the seed and the update count, so two processes x B equal one
    process x 2B. Only the summation order differs (per-rank means, then
    the all-reduce mean, vs one mean over 2B), which moves scores by
    ~1e-7; a mismatched dropout draw or a missing all-reduce would move
    them by about the lr (5e-3). Masks must agree wherever the score is
    farther than that rounding tolerance from the threshold. All but
    1 - AGREEING_SHARE of the entries must agree (see there): on this CPU
    all do, another may send an entry at a decision's edge the other way.
    """
    scores, masks = one_process_scores[run]
    dist_scores, dist_masks = two_process_scores[run][0]
    assert (masks == 0).sum() > 0
    close = (dist_scores - scores).abs() <= SUM_ORDER_ATOL
    assert close.float().mean() >= AGREEING_SHARE, (
        f'{int((~close).sum())} scores differ by more than {SUM_ORDER_ATOL}'
        f', up to {float((dist_scores - scores).abs().max())}')
    decided = close & ((scores - THRESHOLD).abs() > SUM_ORDER_ATOL)
    assert decided.float().mean() > 0.99
    assert torch.equal(dist_masks[decided], masks[decided])


EPOCHS = 4


def start_training(cmd, cwd, log_file, **env):
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PATH=f'{osp.dirname(sys.executable)}:{os.environ["PATH"]}',
               **env)
    log = open(log_file, 'w')
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log,
                            stderr=subprocess.STDOUT), log_file


def finish(started):
    proc, log_file = started
    try:
        code = proc.wait(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    with open(log_file) as f:
        log = f.read()
    assert code == 0, log[-5000:]
    return log


def different_entries(work_a, work_b) -> int:
    masks_a, _ = load_mask_file(str(work_a / 'masks_final.pth'))
    masks_b, _ = load_mask_file(str(work_b / 'masks_final.pth'))
    assert masks_a.keys() == masks_b.keys()
    return sum(int((masks_a[k] != masks_b[k]).sum()) for k in masks_a)


def test_launch_changes_nothing(tmp_path):
    """tools/dist_train.sh with 2 processes (config and work dir with
    spaces in their paths), tools/train.py with 1 process and loading in
    the main process (run in this process while the others run), and with
    2 loader workers: over several epochs of new augmentations the masks
    are the same."""
    data_root = make_image_folder(str(tmp_path / 'data'))
    configs = tmp_path / 'my configs'
    configs.mkdir()
    # global_batch_size=4 over 2 processes: batches of 2 per process.
    config = write_tiny_config(
        str(configs / 'ddp cfg.py'), data_root, epochs=EPOCHS)
    works = {name: tmp_path / f'work {name}'
             for name in ('2 processes', '1 process', '2 workers')}
    runs = {
        '2 processes': start_training(
            ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), config, '2',
             '--work-dir', str(works['2 processes'])],
            str(tmp_path), str(tmp_path / 'dist.log'), PORT=str(free_port())),
        '2 workers': start_training(
            [sys.executable, osp.join(REPO, 'tools', 'train.py'), config,
             '--work-dir', str(works['2 workers']), '--cfg-options',
             'train_dataloader.num_workers=2'], REPO,
            str(tmp_path / 'workers.log')),
    }
    torch.set_num_threads(1)  # as OMP_NUM_THREADS=1 in the others
    one = run_tool('train', config, '--work-dir', str(works['1 process']))
    assert one.returncode == 0, one.output[-5000:]
    logs = {name: finish(started) for name, started in runs.items()}

    log = logs['2 processes']
    dumped = Config.fromfile(str(works['2 processes'] / 'ddp cfg.py'))
    assert dumped.global_batch_size == 4
    assert dumped.train_dataloader.batch_size == 2
    assert dumped.train_dataloader.sampler.global_batch_size == 4
    assert dumped.model_wrapper_cfg.device_ids is None
    assert 'Distributed training: True' in log
    # 3 classes x 4 shots over 2 ranks: 12 images, 3 batches of 2 each.
    assert f'Epoch(train) [{EPOCHS}][3/3]' in log
    # Validation ran distributed too (results gathered over gloo).
    assert 'accuracy/top1' in log

    masks, meta = load_mask_file(str(works['1 process'] /
                                     'masks_final.pth'))
    assert meta['arch'] == TINY_VIT
    assert any(not m.all() for m in masks.values())  # the masks trained
    differ = {name: different_entries(works['1 process'], works[name])
              for name in ('2 processes', '2 workers')}
    # Loader workers change where images are decoded, not the float
    # computation (one training process, OMP_NUM_THREADS=1 in both): exact.
    assert differ['2 workers'] == 0
    # Two processes sum each global batch in another order, and another CPU
    # may send an entry at a decision's edge the other way: at most 0.1% of
    # the entries may differ (0 here); a real fault changes >1% (see
    # AGREEING_SHARE).
    total = sum(m.numel() for m in masks.values())
    assert differ['2 processes'] <= (1 - AGREEING_SHARE) * total, differ


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_tools_shut_the_process_group_down(tmp_path, monkeypatch, tool):
    """A rank that exits with its gloo group still up can abort in
    interpreter teardown after a successful job ("terminate called without
    an active exception"), which made the torchrun test above fail about
    one run in four. Each tool must leave no process group behind."""
    data_root = make_image_folder(str(tmp_path / 'data'))
    config = write_tiny_config(str(tmp_path / 'cfg.py'), data_root, epochs=1)
    for name, value in dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
                            MASTER_ADDR='127.0.0.1',
                            MASTER_PORT=str(free_port())).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, 'argv', [
        f'{tool}.py', config, '--launcher', 'pytorch', '--work-dir',
        str(tmp_path / 'work')
    ])
    try:
        load_tool(tool).main()
        assert not torch_dist.is_initialized()
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
