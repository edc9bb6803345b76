"""Writes the evaluation file of a run: bit-packed masks, metadata and
what inference needs (the classifier, its classes, the test pipeline)."""
import json
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...fileio.mask_file import TRAINED_PARTS

FINAL_MASK_FILE = 'masks_final.pth'


def inference_record(cfg, model) -> dict:
    """What classifying images with ``model`` needs from the run's config,
    as plain data: the classifier config (its backbone's resolved
    pretrained source, the class names and templates it was trained on)
    and the test pipeline."""
    record = json.loads(json.dumps(dict(
        model=cfg.model.to_dict(),
        data_preprocessor=(cfg.get('data_preprocessor') or {}),
        test_pipeline=(cfg.get('test_dataloader') or cfg.val_dataloader)
        .dataset.pipeline), default=list))
    classifier = record['model']
    if not classifier.get('data_preprocessor'):
        classifier['data_preprocessor'] = record.pop('data_preprocessor')
    record.pop('data_preprocessor', None)
    classifier['backbone'].update(pretrained=model.backbone.pretrained,
                                  mask_file=None)
    classifier.update(classnames=list(model.classnames),
                      templates=list(getattr(model.head, 'templates', ())))
    return record


@HOOKS.register_module()
class RMTMaskFileHook(Hook):
    """Saves ``masks_epoch_{N}.pth`` every ``interval`` epochs and
    ``masks_final.pth`` after training, next to the resume checkpoints.

    Methods without masks write none. A mask file is all that evaluation
    and inference need: one bit per masked entry plus the architecture, the
    pretrained source, the selection and the threshold, the classifier
    config with its class names and templates and the test pipeline
    (:func:`inference_record`), and the tensors of the parts other methods
    train (a CoOp context, a Tip-Adapter cache).

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
        state = {k: v for k, v in model.state_dict().items()
                 if k.startswith(TRAINED_PARTS)}
        size = model.backbone.save_masks(
            path, state=state, epoch=runner.epoch,
            inference=inference_record(runner.cfg, model))
        print_log(
            f'Saved masks to {path} ({size / 2**20:.2f} MiB, sparsity '
            f'{model.backbone.sparsity()["overall"]:.2%})',
            logger='current')

    def after_train_epoch(self, runner) -> None:
        if self.interval and self.every_n_epochs(runner, self.interval):
            self._save(runner, f'masks_epoch_{runner.epoch + 1}.pth')

    def after_train(self, runner) -> None:
        self._save(runner, FINAL_MASK_FILE)
