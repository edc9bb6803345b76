"""Follows the mask entries that switch off and on at every optimiser
update, and optionally caps how many may switch in one update."""
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS
from torch import Tensor

#: Keys of the per-update record in ``scalars.json`` and of the log line.
FLIPS_OFF, FLIPS_ON = 'flips_off', 'flips_on'


def crossing_ranks(scores: Tensor, before: Tensor, state: dict) -> Tensor:
    """How strongly each entry is pushed across the threshold: the size of
    the optimiser's running gradient (Adam's first moment, SGD's momentum)
    where it keeps one, else the size of the last step."""
    moment = state.get('exp_avg', state.get('momentum_buffer'))
    if moment is not None:
        return moment.abs()
    return (scores - before).abs()


@torch.no_grad()
def limit_flips(scores: Dict[str, Tensor], before: Dict[str, Tensor],
                ranks: Dict[str, Tensor], threshold: float,
                max_flips: int) -> int:
    """Lets at most ``max_flips`` entries cross ``threshold`` in one update.

    Among the entries whose side of the threshold differs between
    ``before`` and ``scores``, the ``max_flips`` of largest rank cross; the
    others get their score from before the update back (so an entry that
    keeps being pushed crosses in a later update).

    Args:
        scores: Score tensors after the update (changed in place).
        before: The same tensors before the update.
        ranks: Per-entry priority of crossing (see :func:`crossing_ranks`).
        threshold: The binarisation threshold ``alpha``.
        max_flips: Entries allowed to cross, over all tensors.

    Returns:
        The number of entries held back.
    """
    crossed = {n: (before[n] > threshold) != (s > threshold)
               for n, s in scores.items()}
    total = sum(int(c.sum()) for c in crossed.values())
    if total <= max_flips:
        return 0
    candidates = torch.cat([ranks[n][c] for n, c in crossed.items()])
    keep = torch.zeros(total, dtype=torch.bool, device=candidates.device)
    keep[torch.topk(candidates, max_flips, sorted=False).indices] = True
    start = 0
    for name, mask in crossed.items():
        count = int(mask.sum())
        held = torch.zeros_like(mask)
        held[mask] = ~keep[start:start + count]
        scores[name][held] = before[name][held]
        start += count
    return total - max_flips


@HOOKS.register_module()
class RMTMaskFlipHook(Hook):
    """Counts, at every optimiser update, the mask entries that switched off
    and on, for the log line (``flips_off``, ``flips_on``, per update) and
    for ``scalars.json`` (one record per update, with its number
    ``update``, the epoch and the sparsity).

    With ``max_flip_ratio`` it also limits how many entries may cross the
    threshold in one update: with Adam every score whose gradient keeps its
    sign moves by about the learning rate per update, so without a limit
    thousands of entries can cross together (docs/method.md, "Low-shot
    recipe"). Off by default, as in the paper.

    Args:
        max_flip_ratio: Share of the masked entries that may cross the
            threshold in one update (at least one entry); ``None`` for no
            limit. The entries pushed hardest (largest running gradient,
            :func:`crossing_ranks`) cross first.
    """

    priority = 'ABOVE_NORMAL'  # before LoggerHook reads the message hub

    def __init__(self, max_flip_ratio: Optional[float] = None) -> None:
        if max_flip_ratio is not None and not 0 < max_flip_ratio <= 1:
            raise ValueError(
                'RMTMaskFlipHook max_flip_ratio must be in (0, 1] or None, '
                f'got {max_flip_ratio!r}.')
        self.max_flip_ratio = max_flip_ratio
        self._kept: Dict[str, Tensor] = {}
        self._before: Dict[str, Tensor] = {}
        self._updates = 0

    @staticmethod
    def _masks(runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        backbone = getattr(model, 'backbone', None)
        masks = getattr(backbone, 'masks', None)
        return masks if masks is not None and len(masks) else None

    def before_train(self, runner) -> None:
        masks = self._masks(runner)
        self._kept = ({} if masks is None else
                      {n: masks.hard_mask(n) for n in masks.names})
        self._updates = getattr(runner.optim_wrapper, 'num_updates', 0)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        masks = self._masks(runner)
        if masks is not None and self.max_flip_ratio is not None:
            self._before = {n: s.detach().clone() for n, s in masks.items()}

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        masks = self._masks(runner)
        if masks is None or not runner.optim_wrapper.should_update():
            return  # no update in this iteration (gradient accumulation)
        held = 0
        if self.max_flip_ratio is not None:
            held = self._limit(runner, masks)
        kept = {n: masks.hard_mask(n) for n in masks.names}
        off = sum(int((self._kept[n] & ~k).sum()) for n, k in kept.items())
        on = sum(int((~self._kept[n] & k).sum()) for n, k in kept.items())
        self._kept = kept
        hub = runner.message_hub
        hub.update_scalar(f'train/{FLIPS_OFF}', off)
        hub.update_scalar(f'train/{FLIPS_ON}', on)
        dropped = sum(k.numel() - int(k.sum()) for k in kept.values())
        self._updates += 1
        record = {FLIPS_OFF: off, FLIPS_ON: on,
                  'sparsity': dropped / sum(k.numel() for k in kept.values()),
                  'update': self._updates, 'epoch': runner.epoch + 1}
        if self.max_flip_ratio is not None:
            record['flips_held_back'] = held
        runner.visualizer.add_scalars(record, step=runner.iter + 1)

    def _limit(self, runner, masks) -> int:
        scores = {n: s.data for n, s in masks.items()}
        states = runner.optim_wrapper.optimizer.state
        ranks = {n: crossing_ranks(scores[n], self._before[n],
                                   states.get(s, {}))
                 for n, s in masks.items()}
        total = sum(s.numel() for s in scores.values())
        max_flips = max(1, int(self.max_flip_ratio * total))
        return limit_flips(scores, self._before, ranks, masks.threshold,
                           max_flips)
