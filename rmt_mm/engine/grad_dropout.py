"""Gradient Dropout Regularity (GDR) and the optim wrapper that applies it."""
from contextlib import ExitStack, contextmanager
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS
from torch import Tensor, nn

from ..registry import register

EPS = 1e-8


def check_lam(lam: float) -> float:
    """Validates the dropout strength ``lambda``."""
    if lam == 'auto':
        raise ValueError(
            "Gradient dropout lambda 'auto' is resolved from the dataset and "
            'shots by tools/train.py (rmt_mm.runs.recipe.resolve_lam); '
            'resolve it before building the Runner, or give a number.')
    if not isinstance(lam, (int, float)) or not 0.0 <= lam <= 1.0:
        raise ValueError(
            f'Gradient dropout lambda must be a number in [0, 1], got '
            f'{lam!r}. Use 0 for plain AMT, 1 to drop every conflicting '
            'entry (method.md section 5).')
    return float(lam)


def gradient_dropout(g_task: Tensor,
                     g_reg: Tensor,
                     lam: float,
                     generator: Optional[torch.Generator] = None) -> Tensor:
    """Drops task-gradient entries that conflict with the regulariser.

    Per entry, with ``g`` the task gradient and ``r`` the regularisation
    gradient, the keep probability is
    ``P = (1 + sign(g) * (g + r) / (|g| + |r| + 1e-8)) / 2`` (1 where the
    signs agree, ``|g| / (|g| + |r|)`` where they conflict). With
    ``U ~ Uniform(0, 1)`` per entry the result is
    ``((1 - lam) + lam * 1[P > U]) * g``. ``r`` itself is never applied.

    Args:
        g_task: ``dL_task/dM``.
        g_reg: ``dL_reg/dM`` (same shape).
        lam: Dropout strength in ``[0, 1]``; 0 returns ``g_task`` (AMT).
        generator: Source of the uniform draws (for reproducible and
            replica-identical draws).

    Returns:
        The gradient to give to the optimiser.
    """
    lam = check_lam(lam)
    if lam == 0.0:
        return g_task
    keep_prob = (1 + torch.sign(g_task) * (g_task + g_reg) /
                 (g_task.abs() + g_reg.abs() + EPS)) / 2
    uniform = torch.rand(
        g_task.shape,
        generator=generator,
        device=g_task.device,
        dtype=keep_prob.dtype)
    keep = (keep_prob > uniform).to(g_task.dtype)
    return ((1 - lam) + lam * keep) * g_task


@register(OPTIM_WRAPPERS, 'RMTGradDropoutOptimWrapper',
          old_name='GradDropoutOptimWrapper')
class GradDropoutOptimWrapper(OptimWrapper):
    """An optim wrapper that trains mask scores with gradient dropout.

    The model's ``train_step`` (``RMTClassifier.train_step``) hands it the
    task loss, the regularisation loss and the parameters gradient dropout
    applies to (the mask scores) in :meth:`update_params`. From the same
    forward graph it takes the gradient ``g`` of the task loss w.r.t. every
    trainable parameter and the gradient ``r`` of the regularisation loss
    w.r.t. the dropout parameters. Both are accumulated over
    ``accumulative_counts`` micro-batches and averaged over all processes,
    so they are global-batch gradients; then :func:`gradient_dropout` gives
    the gradient of the dropout parameters that the optimiser steps with
    (clipping applies after it). Other trainable parameters (a CoOp
    context, the keys of Tip-Adapter-F) step with their plain task gradient.
    The random draws come from a generator seeded by ``seed`` and the update
    count, so every process draws the same numbers and a resumed run draws
    what the uninterrupted run would have drawn.

    It averages the gradients over the processes itself, so a distributed
    model's own gradient synchronisation is switched off.

    Args:
        optimizer: The optimizer (mmengine builds it from the config).
        lam: Dropout strength ``lambda`` in ``[0, 1]`` (0 = plain AMT).
        seed: Seed of the dropout draws; ``None`` takes the run's seed
            (``randomness.seed``, which the Runner gives to torch before it
            builds the wrapper, identically on every process).
        **kwargs: ``accumulative_counts``, ``clip_grad`` as in
            :class:`mmengine.optim.OptimWrapper`.
    """

    #: ``RMTClassifier.train_step`` hands the regularisation loss over.
    takes_regularization = True
    #: ``RMTDistributedDataParallel`` leaves the averaging to this wrapper.
    averages_gradients = True

    def __init__(self,
                 *,
                 lam: float = 1.0,
                 seed: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.lam = check_lam(lam)
        self.seed = torch.initial_seed() if seed is None else int(seed)
        self.num_updates = 0
        self._acc_task: Optional[List[Tensor]] = None
        self._acc_reg: Optional[List[Tensor]] = None

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Disables a distributed model's own gradient all-reduce."""
        with ExitStack() as stack:
            if hasattr(model, 'no_sync'):
                stack.enter_context(model.no_sync())
            stack.enter_context(super().optim_context(model))
            yield

    def _scale_for_backward(self, loss: Tensor) -> Tensor:
        """Hook for loss scaling (the AMP subclass scales here)."""
        return loss

    def _loss_scale(self) -> float:
        """The factor :meth:`_scale_for_backward` applied."""
        return 1.0

    def _grads(self, loss: Tensor, params: List[Tensor],
               retain_graph: bool) -> List[Tensor]:
        loss = self._scale_for_backward(self.scale_loss(loss))
        grads = torch.autograd.grad(
            loss, params, retain_graph=retain_graph, allow_unused=True)
        return [torch.zeros_like(p) if g is None else g
                for p, g in zip(params, grads)]

    @staticmethod
    def _global_mean(grads: List[Tensor]) -> List[Tensor]:
        world_size = get_world_size()
        if world_size == 1:
            return grads
        flat = torch.cat([g.reshape(-1) for g in grads])
        all_reduce(flat, op='mean')
        return [chunk.view_as(g) for chunk, g in zip(
            flat.split([g.numel() for g in grads]), grads)]

    def _ordered(self, dropout_params: Sequence[Tensor]) -> List[Tensor]:
        """The trainable parameters, the dropout parameters first."""
        dropout_params = list(dropout_params)
        others = [p for group in self.optimizer.param_groups
                  for p in group['params'] if p.requires_grad
                  and all(p is not q for q in dropout_params)]
        return dropout_params + others

    def update_params(self,
                      loss: Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None,
                      *,
                      regularization: Optional[Tensor] = None,
                      dropout_params: Sequence[Tensor] = ()) -> None:
        """Accumulates ``g`` and ``r``; on update steps drops and steps.

        Args:
            loss: The task loss.
            step_kwargs, zero_kwargs: As in mmengine's ``OptimWrapper``.
            regularization: The regularisation loss (needed for ``lam >
                0``).
            dropout_params: The parameters gradient dropout applies to.

        Raises:
            ValueError: If ``lam > 0`` without a regularisation loss.
        """
        if self.lam > 0 and regularization is None:
            raise ValueError(
                f'Gradient dropout with lam={self.lam} needs the '
                'regularisation loss, which RMTClassifier.train_step hands '
                'over (under DDP through RMTDistributedDataParallel, the '
                'model_wrapper_cfg of configs/_base_/default_runtime.py); '
                'give the classifier a regularizer, or set '
                'optim_wrapper.lam=0 for plain AMT.')
        params = self._ordered(dropout_params)
        dropped = len(dropout_params)
        g_task = self._grads(loss, params, retain_graph=self.lam > 0)
        self._acc_task = g_task if self._acc_task is None else [
            a + g for a, g in zip(self._acc_task, g_task)]
        if self.lam > 0:
            g_reg = self._grads(regularization, params[:dropped],
                                retain_graph=False)
            self._acc_reg = g_reg if self._acc_reg is None else [
                a + g for a, g in zip(self._acc_reg, g_reg)]
        self._inner_count += 1
        if self.should_update():
            self._apply_dropout(params, dropped)
            self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))

    def _apply_dropout(self, params: List[Tensor], dropped: int) -> None:
        """Gives ``params`` their final gradients; gradient dropout applies
        to the first ``dropped`` of them."""
        # One all-reduce for both gradients: global-batch g and r.
        grads = self._global_mean(self._acc_task + (self._acc_reg or []))
        g_task, g_reg = grads[:len(params)], grads[len(params):]
        final = list(g_task)
        if self.lam > 0 and dropped:
            generator = torch.Generator(device=params[0].device)
            generator.manual_seed(
                (self.seed * 1_000_003 + self.num_updates) % 2**63)
            # The rule sees true gradients (its 1e-8 is not scale-free);
            # loss scales are powers of two, so rescaling is exact.
            scale = self._loss_scale()
            for i, r in enumerate(g_reg):
                final[i] = gradient_dropout(g_task[i] / scale, r / scale,
                                            self.lam, generator) * scale
            changed = sum(int((final[i].abs() < g_task[i].abs()).sum())
                          for i in range(dropped))
            self.message_hub.update_scalar(
                'train/grad_dropped',
                changed / max(1, sum(g.numel() for g in g_task[:dropped])))
        for p, f in zip(params, final):
            p.grad = f
        self._acc_task = self._acc_reg = None
        self.num_updates += 1

    def state_dict(self) -> dict:
        state = super().state_dict()
        state['grad_dropout_updates'] = self.num_updates
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        self.num_updates = state_dict.pop('grad_dropout_updates', 0)
        super().load_state_dict(state_dict)


@register(OPTIM_WRAPPERS, 'RMTAmpGradDropoutOptimWrapper',
          old_name='AmpGradDropoutOptimWrapper')
class AmpGradDropoutOptimWrapper(GradDropoutOptimWrapper, AmpOptimWrapper):
    """:class:`GradDropoutOptimWrapper` under automatic mixed precision.

    Both losses are scaled by the same loss scale before differentiation,
    the dropout rule is applied to the unscaled gradients, and the scaler
    unscales (and skips steps with inf/nan) when stepping, so the update is
    the one of :class:`GradDropoutOptimWrapper`. ``tools/train.py --amp``
    selects it in place of :class:`GradDropoutOptimWrapper`.

    Args:
        loss_scale: ``'dynamic'``, a number or a ``GradScaler`` config.
        dtype: ``'float16'`` or ``'bfloat16'``.
        **kwargs: Arguments of :class:`GradDropoutOptimWrapper`.
    """

    def _scale_for_backward(self, loss: Tensor) -> Tensor:
        return self.loss_scaler.scale(loss)

    def _loss_scale(self) -> float:
        return float(self.loss_scaler.get_scale())
