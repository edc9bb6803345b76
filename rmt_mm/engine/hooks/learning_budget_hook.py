"""Checks at the start of training that the schedule can flip a mask
entry at all, and records the run's recipe."""
import logging
import os.path as osp
from typing import Optional, Sequence, Tuple, Union

import mmengine
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmpretrain.registry import HOOKS, PARAM_SCHEDULERS

#: Written to the work dir: shots, seed, lambda and the schedule's figures.
RECIPE_FILE = 'run_recipe.json'

SchedulerCfgs = Union[None, dict, Sequence[dict]]


def scheduled_lr_sum(lr: float, param_scheduler: SchedulerCfgs,
                     max_epochs: int, iters_per_epoch: int,
                     accumulative_counts: int = 1) -> Tuple[float, int]:
    """Steps the run's parameter schedulers on a stand-in optimizer, as
    mmengine's loop and ``ParamSchedulerHook`` do, and adds up the learning
    rate of every optimiser update.

    Args:
        lr: The optimizer's initial learning rate.
        param_scheduler: The config's ``param_scheduler``.
        max_epochs: Epochs of the run.
        iters_per_epoch: Loader iterations per epoch on one process.
        accumulative_counts: Iterations per optimiser update.

    Returns:
        The sum of the learning rates of all updates and the number of
        updates.
    """
    if isinstance(param_scheduler, dict):
        param_scheduler = [param_scheduler]
    max_iters = max_epochs * iters_per_epoch
    wrapper = OptimWrapper(
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr))
    schedulers = []
    for scheduler in param_scheduler or []:
        scheduler = dict(scheduler)
        scheduler.setdefault(
            'end',
            max_epochs if scheduler.get('by_epoch', True) else max_iters)
        schedulers.append(
            PARAM_SCHEDULERS.build(
                scheduler,
                default_args=dict(
                    optimizer=wrapper, epoch_length=iters_per_epoch)))
    total, updates, iteration = 0.0, 0, 0
    for _ in range(max_epochs):
        for _ in range(iters_per_epoch):
            iteration += 1
            # mmengine's OptimWrapper counts accumulation over the whole run.
            if iteration % accumulative_counts == 0 or \
                    iteration == max_iters:
                total += wrapper.param_groups[0]['lr']
                updates += 1
                # A no-op (no gradient), counted by the schedulers, which
                # warn when they step before the optimizer ever did.
                wrapper.step()
            for scheduler in schedulers:
                if not scheduler.by_epoch:
                    scheduler.step()
        for scheduler in schedulers:
            if scheduler.by_epoch:
                scheduler.step()
    return total, updates


@HOOKS.register_module()
class RMTLearningBudgetHook(Hook):
    """Warns, in one line, when a run's learning rates cannot move a mask
    score from its initial value across the threshold.

    With Adam a score moves by about the learning rate per update at most,
    so an entry flips only if the sum of the learning rates of all updates
    reaches ``|score_init - threshold|``. Otherwise the trained model is the
    pre-trained one. With staggered initial scores (``score_stagger``,
    spread over ``(threshold, 2 * score_init - threshold]``) the entries
    that start within that sum of the threshold can flip, and the hook says
    which share that is. It also writes the run's shots, seed, lambda and
    these figures to ``work_dir/run_recipe.json``.
    """

    priority = 'LOW'

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        backbone = getattr(model, 'backbone', None)
        if not hasattr(backbone, 'score_init'):
            return
        distance = abs(backbone.score_init - backbone.threshold)
        wrapper = runner.optim_wrapper
        group = wrapper.param_groups[0]
        lr = group.get('initial_lr', group['lr'])
        iters = len(runner.train_dataloader)
        accumulate = getattr(wrapper, '_accumulative_counts', 1)
        lr_sum, updates = scheduled_lr_sum(
            lr, runner.cfg.get('param_scheduler'), runner.max_epochs, iters,
            accumulate)
        record = dict(
            shots=self._shots(runner),
            seed=runner.seed,
            lam=getattr(wrapper, 'lam', None),
            max_epochs=runner.max_epochs,
            updates=updates,
            lr=lr,
            lr_sum=lr_sum,
            flip_distance=distance,
            score_stagger=getattr(backbone, 'score_stagger', None))
        if is_main_process():
            mmengine.dump(record, osp.join(runner.work_dir, RECIPE_FILE),
                          indent=1)
        if getattr(backbone, 'score_stagger', None):
            share = min(1.0, lr_sum / (2 * distance))
            print_log(
                f'Learning budget: {updates} updates, learning rates summing '
                f'to {lr_sum:.2e}; with initial scores staggered over '
                f'{2 * distance:.1e} above the threshold, about {share:.0%} '
                'of the entries start within reach of it.', logger='current')
        elif lr_sum < distance:
            print_log(
                f'No mask entry can change in this run: its {updates} '
                f'updates ({runner.max_epochs} epochs) have learning rates '
                f'summing to {lr_sum:.2e}, but a score must move '
                f'{distance:.1e} (score_init - threshold) to flip, so the '
                'result is the pre-trained CLIP. Train with --shots K (the '
                'low-shot recipe staggers the initial scores) or raise '
                'train_cfg.max_epochs or optim_wrapper.optimizer.lr.',
                logger='current',
                level=logging.WARNING)
        else:
            print_log(
                f'Learning budget: {updates} updates, learning rates '
                f'summing to {lr_sum:.2e} ({lr_sum / distance:.1f}x the '
                f'{distance:.1e} a score moves to flip).',
                logger='current')

    @staticmethod
    def _shots(runner) -> Optional[int]:
        dataset = (runner.cfg.get('train_dataloader') or {}).get('dataset')
        return (dataset or {}).get('num_shots')
