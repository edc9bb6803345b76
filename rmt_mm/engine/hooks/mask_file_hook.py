"""Writes the evaluation file of a run: bit-packed masks plus metadata."""
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

FINAL_MASK_FILE = 'masks_final.pth'


@HOOKS.register_module()
class RMTMaskFileHook(Hook):
    """Saves ``masks_epoch_{N}.pth`` every ``interval`` epochs and
    ``masks_final.pth`` after training, next to the resume checkpoints.

    Methods without masks write none. These files are all that evaluation
    of a method whose other parts do not train (R-AMT) needs (``tools/test.py CONFIG
    MASK_FILE``): one bit per masked entry plus the architecture, the
    pretrained source, the selection and the threshold.

    Args:
        interval: Epochs between mask files; ``None`` writes only the final.
    """

    priority = 'LOW'

    def __init__(self, interval: Optional[int] = 1) -> None:
        self.interval = interval

    def _save(self, runner, filename: str) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if not is_main_process() or not model.backbone.has_masks:
            return
        path = osp.join(runner.work_dir, filename)
        size = model.backbone.save_masks(path, epoch=runner.epoch)
        print_log(
            f'Saved masks to {path} ({size / 2**20:.2f} MiB, sparsity '
            f'{model.backbone.sparsity()["overall"]:.2%})',
            logger='current')

    def after_train_epoch(self, runner) -> None:
        if self.interval and self.every_n_epochs(runner, self.interval):
            self._save(runner, f'masks_epoch_{runner.epoch + 1}.pth')

    def after_train(self, runner) -> None:
        self._save(runner, FINAL_MASK_FILE)
