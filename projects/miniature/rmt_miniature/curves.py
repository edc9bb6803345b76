"""One run seen epoch by epoch: validation and test accuracy and sparsity
of the masks after every epoch (test figures for the report only; nothing
is chosen on them)."""
import json
import os.path as osp
from typing import Dict, List

from .lowshot import build_config

CURVES_FILE = 'epoch_curves.json'


def epoch_curves(task: str, shots: int, seed: int, data_root: str,
                 work_dir: str) -> Dict[str, List[float]]:
    """Trains the task's R-AMT config (the paper's recipe at 16 shots) with
    a mask file per epoch, then evaluates every epoch's masks (and zero-shot
    CLIP as epoch 0) on the validation subset and the test split.

    Returns:
        ``epoch``, ``val_top1``, ``test_top1`` and ``sparsity`` (percent),
        one entry per epoch from 0; also written to ``work_dir``.
    """
    from mmengine.runner import Runner

    from rmt_mm.fileio import load_mask_file
    cfg = build_config(None, task, shots, seed, data_root, work_dir)
    for hook in cfg.custom_hooks:
        if hook['type'] == 'RMTMaskFileHook':
            hook['interval'] = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    backbone = runner.model.backbone
    curves = dict(epoch=[], val_top1=[], test_top1=[], sparsity=[])
    for epoch in range(cfg.train_cfg.max_epochs + 1):
        if epoch:
            masks, meta = load_mask_file(
                osp.join(work_dir, f'masks_epoch_{epoch}.pth'))
            sparsity = 100 * meta['sparsity']
        else:
            masks = {n: m.new_ones(m.shape)
                     for n, m in backbone.hard_masks().items()}
            sparsity = 0.0
        backbone.load_hard_masks(masks)
        curves['epoch'].append(epoch)
        curves['val_top1'].append(runner.val()['accuracy/top1'])
        curves['test_top1'].append(runner.test()['accuracy/top1'])
        curves['sparsity'].append(sparsity)
    with open(osp.join(work_dir, CURVES_FILE), 'w') as file:
        json.dump(curves, file, indent=1)
    return curves


def draw_curves(curves: Dict[str, List[float]], out: str, title: str) -> None:
    """Accuracy (val, test) and sparsity against the epoch."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(curves['epoch'], curves['test_top1'], marker='.',
            label='test top-1')
    ax.plot(curves['epoch'], curves['val_top1'], marker='.',
            label='validation top-1 (few-shot subset)')
    ax.axhline(curves['test_top1'][0], color='gray', linestyle='--',
               label='zero-shot CLIP (test)')
    ax.set_xlabel('epoch (0 = zero-shot CLIP)')
    ax.set_ylabel('top-1 (%)')
    ax.grid(alpha=0.3)
    right = ax.twinx()
    right.plot(curves['epoch'], curves['sparsity'], color='tab:purple',
               linestyle=':', label='sparsity (right axis)')
    right.set_ylabel('sparsity of the masked weights (%)')
    lines = ax.get_legend_handles_labels()
    extra = right.get_legend_handles_labels()
    ax.legend(lines[0] + extra[0], lines[1] + extra[1], fontsize=8,
              loc='lower right')
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
