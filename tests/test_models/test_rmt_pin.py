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

from rmt_mm.utils.launch import (apply_auto_scale_lr,
                                 apply_global_batch_size, check_train_config)

# sha256 over the score tensors (float32 bytes, model order) and over the
# boolean keep-masks after a two-epoch tiny run, lambda 0.3 and 1.0.
PINNED = {
    0.3: ('d29d35bcc76a01715e8a65f61169240ace8605186818dcfdbdebb4670874d65f',
          '4d770622e32047d4aace51023e5080bdf4deac700210a85e83274f1f19717b7c'),
    1.0: ('14fbfde39c7359f4ba7245b4dbf80797c4cd9137e37845c08c87033c77f0bf8e',
          'df60aec2fbce243ab98b935e0e4acaabd1523c57188f63902bcde2c4bd2c48ea'),
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
    # What tools/train.py does in one process.
    check_train_config(cfg)
    apply_global_batch_size(cfg, 1)
    apply_auto_scale_lr(cfg, 1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.model


def test_short_rmt_run_reproduces_the_pinned_masks(tmp_path):
    for lam, expected in PINNED.items():
        torch.set_num_threads(2)
        model = short_run(tmp_path / str(lam), lam)
        assert 0 < model.backbone.sparsity()['overall'] < 1
        assert fingerprints(model.backbone) == expected, lam
