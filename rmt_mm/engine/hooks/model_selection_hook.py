"""Guards a run against ending below zero-shot CLIP: validation of the
zero-shot model before training and after every epoch, the choice of the
model to keep, and a warning when it is worse than zero-shot on val."""
import json
import logging
import os.path as osp
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS
from torch import Tensor

from ...fileio.atomic import atomic_write_bytes

#: Written to the work dir after training: the val history and the choice.
MODEL_SELECTION_RECORD = 'model_selection.json'
SELECT_MODES = ('last', 'best_val')
#: Key of the hook's state in resume checkpoints.
CHECKPOINT_KEY = 'rmt_model_selection'


def _checked(select: str, name: str) -> str:
    if select not in SELECT_MODES:
        raise ValueError(
            f'Model selection {name} must be one of {SELECT_MODES}, got '
            f'{select!r}.')
    return select


def _backbone(runner):
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    return getattr(model, 'backbone', None)


@HOOKS.register_module()
class RMTModelSelectionHook(Hook):
    """Validates the model before training (epoch 0: zero-shot CLIP, every
    mask kept) and after every epoch when the validation split is no larger
    than the training subset (few-shot runs), then keeps a model:

    - ``select='last'``: the model after the last epoch (the paper's
      protocol; CoOp reports the last epoch, method.md section 6);
    - ``select='best_val'``: the epoch with the best validation accuracy,
      zero-shot CLIP (epoch 0) included, a later epoch kept only if it is
      strictly better. ``masks_final.pth`` then holds the kept masks.

    After training it logs the choice, writes ``model_selection.json``
    (every validation, the zero-shot figure and the kept epoch) and warns in
    one line when the kept model's validation accuracy is below zero-shot's.
    Runs without masks (CoOp, Tip-Adapter) or without validation skip it.

    Args:
        select: ``'last'`` or ``'best_val'``; ``None`` takes the config's
            top-level ``model_selection`` (``'last'`` when it has none; the
            own-folder dataset base sets ``'best_val'``).
        metric: The validation metric to compare.
    """

    priority = 'BELOW_NORMAL'  # after_train: before RMTMaskFileHook (LOW)

    def __init__(self, select: Optional[str] = None,
                 metric: str = 'accuracy/top1') -> None:
        self.select = None if select is None else _checked(select, 'select')
        self.metric = metric
        self.history: List[Tuple[int, float]] = []
        self.best_epoch = 0
        self.best_masks: Optional[Dict[str, Tensor]] = None
        self._training = False

    # ------------------------------------------------------------ training
    def before_train(self, runner) -> None:
        if self.select is None:
            self.select = _checked(
                runner.cfg.get('model_selection', 'last'), 'model_selection')
        backbone = _backbone(runner)
        self._training = (runner.val_loop is not None
                          and getattr(backbone, 'has_masks', False))
        if not self._training:
            if self.select == 'best_val' and runner.val_loop is None:
                print_log(
                    "Model selection 'best_val' needs a validation split; "
                    'this run has none (--no-validate?), so it keeps the '
                    'last epoch.', logger='current', level=logging.WARNING)
            return
        val_size = len(runner.val_dataloader.dataset)
        train_size = len(runner.train_dataloader.dataset)
        if val_size <= train_size:
            loop = runner.train_loop
            loop.val_interval = 1
            loop.dynamic_milestones, loop.dynamic_intervals = [0], [1]
            print_log(
                f'Validating before training and after every epoch '
                f'({val_size} validation images, {train_size} training); '
                f"model selection: {self.select!r}.", logger='current')
        # Epoch 0 (zero-shot), or the resumed epoch if its validation ran
        # after the checkpoint was written.
        if not self.history or self.history[-1][0] < runner.epoch:
            runner.val_loop.run()

    def after_val_epoch(self, runner, metrics: Optional[dict] = None
                        ) -> None:
        if not self._training or not metrics or self.metric not in metrics:
            return
        epoch, value = runner.epoch, float(metrics[self.metric])
        self.history.append((epoch, value))
        if self.select == 'best_val' and epoch > 0 and \
                value > self._value(self.best_epoch):
            self.best_epoch = epoch
            self.best_masks = _backbone(runner).hard_masks()

    def after_train(self, runner) -> None:
        if not self._training:
            return
        self._training = False
        backbone = _backbone(runner)
        last_epoch, last_value = self.history[-1]
        kept = self.best_epoch if self.select == 'best_val' else last_epoch
        if kept != last_epoch:
            backbone.load_hard_masks(self.best_masks if kept else {
                n: torch.ones_like(m) for n, m in backbone.hard_masks().items()
            })
        zero_shot, kept_value = self._value(0), self._value(kept)
        what = 'zero-shot CLIP' if kept == 0 else f'epoch {kept}'
        print_log(
            f'Model selection ({self.select!r}): kept {what}, val '
            f'{self.metric} {kept_value:.2f} (zero-shot {zero_shot:.2f}, '
            f'last epoch {last_value:.2f}).', logger='current')
        if kept_value < zero_shot:
            print_log(
                f'The kept model is below zero-shot CLIP on the validation '
                f'split ({self.metric} {kept_value:.2f} < {zero_shot:.2f}): '
                "set model_selection = 'best_val' in the config to keep the "
                'best epoch, or give the run more shots (docs/method.md '
                'section 10).', logger='current', level=logging.WARNING)
        if is_main_process():
            record = dict(select=self.select, metric=self.metric,
                          zero_shot=zero_shot, kept_epoch=kept,
                          kept=kept_value, history=self.history)
            atomic_write_bytes(
                json.dumps(record, indent=1).encode(),
                osp.join(runner.work_dir, MODEL_SELECTION_RECORD))

    def _value(self, epoch: int) -> float:
        return dict(self.history)[epoch]

    # --------------------------------------------------------------- resume
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = dict(
            history=[list(item) for item in self.history],
            best_epoch=self.best_epoch, best_masks=self.best_masks)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(CHECKPOINT_KEY)
        if state is None:
            return
        self.history = [(int(e), float(v)) for e, v in state['history']]
        self.best_epoch = state['best_epoch']
        self.best_masks = state['best_masks']
