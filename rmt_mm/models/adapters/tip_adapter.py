"""Tip-Adapter's cache model (method.md section 9), optional on any
classifier."""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor, nn


def cache_affinity(features: Tensor, keys: Tensor, beta) -> Tensor:
    """``A = exp(-beta * (1 - f K^T))`` for unit features and keys."""
    return torch.exp(-beta * (1 - features @ keys.t()))


@MODELS.register_module()
class RMTTipAdapter(nn.Module):
    """Tip-Adapter: a key-value cache of the few-shot training set.

    Keys are the L2-normalised image features of the training images (the
    average over augmented passes, built by ``RMTCacheAdapterHook``), values
    their one-hot labels. For a unit image feature ``f`` and the classifier's
    CLIP logits ``l``, the logits are ``l + alpha * A V`` with
    ``A = exp(-beta * (1 - f K^T))``. ``alpha`` and ``beta`` are searched
    on the validation split (:meth:`search`), never on the test split.

    Args:
        alpha: Residual ratio before the search.
        beta: Sharpness before the search.
        fine_tune_keys: Tip-Adapter-F: the keys are trained.
        alpha_range: ``(low, high)`` of the searched alphas.
        beta_range: ``(low, high)`` of the searched betas.
        search_steps: Grid points ``(alphas, betas)``.
        augment_passes: Augmented passes over the training set averaged
            into the keys (10 in Tip-Adapter).
    """

    def __init__(self,
                 alpha: float = 1.0,
                 beta: float = 1.0,
                 fine_tune_keys: bool = False,
                 alpha_range: Tuple[float, float] = (0.1, 3.0),
                 beta_range: Tuple[float, float] = (0.1, 7.0),
                 search_steps: Tuple[int, int] = (20, 200),
                 augment_passes: int = 10) -> None:
        super().__init__()
        if augment_passes < 1:
            raise ValueError(
                f'augment_passes must be >= 1, got {augment_passes}.')
        self.fine_tune_keys = fine_tune_keys
        self.alpha_range = tuple(alpha_range)
        self.beta_range = tuple(beta_range)
        self.search_steps = tuple(search_steps)
        self.augment_passes = augment_passes
        self.keys = nn.Parameter(torch.empty(0), requires_grad=fine_tune_keys)
        self.register_buffer('values', torch.empty(0))
        self.register_buffer('alpha', torch.tensor(float(alpha)))
        self.register_buffer('beta', torch.tensor(float(beta)))
        self.register_buffer('searched', torch.tensor(False))

    @property
    def has_cache(self) -> bool:
        return self.values.numel() > 0

    @torch.no_grad()
    def build_cache(self, features: Tensor, labels: Tensor,
                    num_classes: int) -> None:
        """Keys = the unit ``features``; values = one-hot ``labels``.

        The key parameter keeps its identity (an optimizer built before the
        cache still holds it).
        """
        if len(features) != len(labels) or not len(features):
            raise ValueError(
                f'The cache needs one label per feature and at least one '
                f'of each, got {len(features)} features, {len(labels)} '
                'labels.')
        self.keys.data = F.normalize(features.float(), dim=-1).to(
            self.alpha.device)
        self.values = F.one_hot(labels.long(), num_classes).float().to(
            self.alpha.device)
        self.searched.fill_(False)

    def forward(self, features: Tensor, clip_logits: Tensor) -> Tensor:
        """``clip_logits + alpha * A V`` for unit image ``features``."""
        if not self.has_cache:
            raise RuntimeError(
                'The Tip-Adapter cache is empty: it is built from the '
                'training split. Add RMTCacheAdapterHook to custom_hooks '
                'and give the config a train_dataloader (or load a '
                'checkpoint that holds the cache).')
        if clip_logits.shape[1] != self.values.shape[1]:
            raise ValueError(
                f'The cache holds {self.values.shape[1]} classes but the '
                f'head gives {clip_logits.shape[1]}: a cache adapter '
                'evaluates only on the classes it was built from.')
        affinity = cache_affinity(features, self.keys.to(features.dtype),
                                  self.beta)
        return clip_logits + self.alpha * affinity @ self.values

    @torch.no_grad()
    def search(self, features: Tensor, clip_logits: Tensor,
               labels: Tensor) -> Tuple[float, float, float]:
        """Grid search of ``alpha`` and ``beta`` for top-1 accuracy on the
        given (validation) features; keeps the best pair (the first one in
        grid order on ties).

        Returns:
            ``(alpha, beta, accuracy %)``.
        """
        alphas = torch.linspace(*self.alpha_range, self.search_steps[0])
        betas = torch.linspace(*self.beta_range, self.search_steps[1])
        similarity = features @ self.keys.t()
        best = (-1.0, float(self.alpha), float(self.beta))
        for beta in betas.tolist():
            cache_logits = torch.exp(-beta * (1 - similarity)) @ self.values
            logits = clip_logits + alphas[:, None, None] * cache_logits
            accuracy = (logits.argmax(-1) == labels).float().mean(-1) * 100
            index = int(accuracy.argmax())  # the first best alpha
            if accuracy[index].item() > best[0]:
                best = (accuracy[index].item(), alphas[index].item(), beta)
        accuracy, alpha, beta = best
        self.alpha.fill_(alpha)
        self.beta.fill_(beta)
        self.searched.fill_(True)
        return alpha, beta, accuracy

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A saved cache has the size of its training set: take its shape.
        for name in ('keys', 'values'):
            saved = state_dict.get(prefix + name)
            if saved is not None:
                getattr(self, name).data = torch.empty_like(
                    saved, device=self.alpha.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
