"""Binary masks over frozen weights, learned through real-valued scores.

Only this module knows how a mask is represented (a score tensor M of the
weight's shape) and binarised (``M > threshold``). Everything else asks it for
the effective weight or the hard mask.
"""
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Tuple

import torch
from torch import Tensor, nn


def apply_mask(weight: Tensor, scores: Tensor, threshold: float) -> Tensor:
    """``W * 1[M > threshold]`` (no gradient)."""
    return weight * (scores > threshold).to(weight.dtype)


class _StraightThroughMask(torch.autograd.Function):
    """``W * 1[M > alpha]`` whose gradient w.r.t. ``M`` is ``dL/dW_eff * W``.

    The indicator has no gradient; the straight-through estimator passes the
    gradient of the binary mask unchanged to the scores. Only the frozen
    weight is saved (it already lives in the model), so the backward costs no
    extra memory beyond the incoming gradient.
    """

    @staticmethod
    def forward(ctx, weight: Tensor, scores: Tensor, threshold: float):
        ctx.save_for_backward(weight)
        return apply_mask(weight, scores, threshold)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        weight, = ctx.saved_tensors
        return None, grad_output * weight, None


def masked_weight(weight: Tensor, scores: Tensor, threshold: float) -> Tensor:
    """Effective weight ``W * 1[M > threshold]`` with a straight-through grad.

    Args:
        weight: The frozen weight ``W``.
        scores: The real-valued mask scores ``M`` (same shape as ``W``).
        threshold: ``alpha``; entries with ``M <= alpha`` are masked out.

    Returns:
        The effective weight. Its value is bit-identical to ``W`` wherever the
        mask keeps the entry and exactly zero elsewhere.
    """
    return _StraightThroughMask.apply(weight, scores, threshold)


def _key(name: str) -> str:
    # Module attribute names may not contain dots.
    return name.replace('.', '__')


def names_in_state_dict(state_dict: Dict[str, Tensor],
                        prefix: str) -> list:
    """Weight names of the scores a :class:`MaskScores` at ``prefix`` saved."""
    head = prefix + 'scores.'
    return [k[len(head):].replace('__', '.') for k in state_dict
            if k.startswith(head)]


class MaskScores(nn.Module):
    """The score tensors of a set of masked weights, keyed by weight name.

    Args:
        shapes: ``{weight name: shape}`` of the weights to mask.
        init: Initial value of every score (``1e-2`` in the paper).
        threshold: Binarisation threshold ``alpha`` (``5e-3`` in the paper);
            must be below ``init`` so that step 0 keeps every weight.
        device: Device of the scores.
        dtype: Dtype of the scores (``init`` is rounded to it once).
    """

    def __init__(self,
                 shapes: Dict[str, Tuple[int, ...]],
                 init: float = 1e-2,
                 threshold: float = 5e-3,
                 device: Optional[torch.device] = None,
                 dtype: Optional[torch.dtype] = None) -> None:
        super().__init__()
        if not init > threshold:
            raise ValueError(
                f'The mask score init ({init}) must be above the threshold '
                f'({threshold}), otherwise the model does not start as '
                'zero-shot CLIP.')
        self.names = list(shapes)
        self.init = float(init)
        self.threshold = float(threshold)
        self.scores = nn.ParameterDict({
            _key(name): nn.Parameter(
                torch.full(tuple(shape), self.init, device=device,
                           dtype=dtype))
            for name, shape in shapes.items()
        })

    @torch.no_grad()
    def stagger(self, weights: Dict[str, Tensor], mode: str) -> None:
        """Spreads the initial scores over ``(threshold, 2 * init -
        threshold]`` (mean ``init``), so that entries reach the threshold at
        different times; every entry still starts kept.

        Args:
            weights: ``{weight name: frozen weight}``.
            mode: ``'magnitude'`` (the smaller ``|W|`` within its tensor, the
                closer to the threshold) or ``'uniform'`` (random, from
                torch's global generator).
        """
        for name, scores in self.items():
            if mode == 'magnitude':
                ascending = weights[name].abs().flatten().argsort()
                rank = torch.empty_like(ascending)
                rank[ascending] = torch.arange(
                    1, rank.numel() + 1, device=rank.device)
                quantile = rank.to(scores.dtype) / rank.numel()
            elif mode == 'uniform':
                quantile = 1 - torch.rand(scores.numel(), dtype=scores.dtype,
                                          device=scores.device)
            else:
                raise ValueError(
                    f"Score staggering must be 'magnitude' or 'uniform', got "
                    f'{mode!r}.')
            spread = 2 * (self.init - self.threshold)
            scores.copy_((self.threshold + spread * quantile).view_as(scores))

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def __getitem__(self, name: str) -> nn.Parameter:
        return self.scores[_key(name)]

    def items(self) -> Iterator[Tuple[str, nn.Parameter]]:
        """Yields ``(weight name, score tensor)`` in a fixed order."""
        for name in self.names:
            yield name, self.scores[_key(name)]

    def effective(self, name: str, weight: Tensor) -> Tensor:
        """The masked weight (straight-through) for ``name``."""
        return masked_weight(weight, self[name], self.threshold)

    @contextmanager
    def rebuilt_in_backward(self, effective: Dict[str, Tensor],
                            weights: Dict[str, Tensor]):
        """Keeps autograd from holding masked weights until the backward.

        Layers save their weight for the backward pass; for a masked weight
        that would keep a second copy of it alive. Inside this context
        autograd saves, for any tensor sharing storage with
        ``effective[name]``, only the view geometry, and rebuilds the masked
        weight from ``weights[name]`` and the (unchanged) scores when the
        backward needs it.

        Args:
            effective: ``{weight name: masked weight}`` as given to layers.
            weights: ``{weight name: frozen weight}``.
        """
        by_storage = {t.untyped_storage().data_ptr(): name
                      for name, t in effective.items()}

        def pack(tensor: Tensor):
            name = by_storage.get(tensor.untyped_storage().data_ptr())
            if name is None or tensor.numel() == 0:
                return tensor
            return (name, tensor.size(), tensor.stride(),
                    tensor.storage_offset())

        def unpack(packed):
            if isinstance(packed, Tensor):
                return packed
            name, size, stride, offset = packed
            return self.hard_masked(name, weights[name]).as_strided(
                size, stride, offset)

        with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
            yield

    @torch.no_grad()
    def hard_masked(self, name: str, weight: Tensor) -> Tensor:
        """``weight`` with the hard mask of ``name`` applied (no gradient);
        the same values as :meth:`effective` produces."""
        return apply_mask(weight, self[name], self.threshold)

    @torch.no_grad()
    def hard_mask(self, name: str) -> Tensor:
        """The boolean keep-mask ``M > alpha`` of ``name``."""
        return self[name] > self.threshold

    @torch.no_grad()
    def set_hard_masks(self, masks: Dict[str, Tensor]) -> None:
        """Sets scores so that they binarise to the given boolean masks.

        Kept entries get the init value and dropped entries zero, which is
        how a mask file is turned back into a model.
        """
        for name, mask in masks.items():
            scores = self[name]
            if tuple(mask.shape) != tuple(scores.shape):
                raise ValueError(
                    f'Mask for {name!r} has shape {tuple(mask.shape)}, the '
                    f'model expects {tuple(scores.shape)}.')
            scores.copy_(mask.to(scores.device).to(scores.dtype) * self.init)

    @torch.no_grad()
    def sparsity(self) -> Dict[str, float]:
        """Share of dropped entries (``M <= alpha``) per tensor and overall.

        Returns:
            ``{weight name: share}`` plus ``'overall'``, the share among all
            entries of the masked tensors (the paper's "sparsity").
        """
        stats, dropped, total = {}, 0, 0
        for name, scores in self.items():
            n_drop = int((scores <= self.threshold).sum())
            stats[name] = n_drop / scores.numel()
            dropped += n_drop
            total += scores.numel()
        stats['overall'] = dropped / total if total else 0.0
        return stats

    def sparsity_loss(self) -> Tensor:
        """``sum over masked tensors of ||M||_2`` (plain, unsquared)."""
        return sum(torch.linalg.vector_norm(s) for _, s in self.items())
