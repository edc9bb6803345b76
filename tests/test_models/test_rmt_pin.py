"""Pins a short R-AMT run: refactors of the classifier, its parts or the
optim wrapper must leave today's R-AMT configs bit-identical.

The fingerprints were recorded with the implementation before the
classifier became a composition of registered parts (heads, adapters,
regularisers). A change of them means R-AMT itself changed.
"""
import hashlib

import torch
from mmengine.config import Config
from mmengine.runner import Runner
from rmt_testing import make_image_folder, write_tiny_config

# sha256 over the score tensors (float32 bytes, model order) and over the
# boolean keep-masks after a two-epoch tiny run, lambda 0.3 and 1.0.
PINNED = {
    0.3: ('afe281e98e1e3dffe2f7e334b65e6d63d193bfa7d7e070d8eddbe3de10e1016f',
          '157c62a4f19a24cfd40a043da4ff99022dbe37decea3bfbcfc0bef79d7b84822'),
    1.0: ('b0ae29d23ed776bcc10c907de4d6ab6ae22879934d09869b4d5fd571c0b76cff',
          '99b3a74b0166e159aac64b1be2de29b6f35d95ebde9386869a4b38a50fde13bb'),
}


def fingerprints(backbone) -> tuple:
    scores, masks = hashlib.sha256(), hashlib.sha256()
    for name, s in backbone.masks.items():
        scores.update(name.encode())
        scores.update(s.detach().float().contiguous().numpy().tobytes())
        masks.update(name.encode())
        masks.update(backbone.masks.hard_mask(name).numpy().tobytes())
    return scores.hexdigest(), masks.hexdigest()


def short_run(tmp_path, lam: float):
    data = make_image_folder(str(tmp_path / 'data'))
    cfg = Config.fromfile(
        write_tiny_config(str(tmp_path / 'tiny.py'), data, epochs=2))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.optim_wrapper.lam = lam
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.model


def test_short_rmt_run_reproduces_the_pinned_masks(tmp_path):
    for lam, expected in PINNED.items():
        torch.set_num_threads(2)
        model = short_run(tmp_path / str(lam), lam)
        assert 0 < model.backbone.sparsity()['overall'] < 1
        assert fingerprints(model.backbone) == expected, lam
