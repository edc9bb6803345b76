"""Class head from hand-written prompts: class names x templates ->
normalised CLIP text features, computed once by the frozen text encoder."""
from typing import Sequence

import torch
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from ..masked_clip import MaskedCLIP


def prompt_name(classname: str) -> str:
    """A class name as it goes into a prompt: underscores become spaces and
    the name is lower-cased, as the R-AMT authors do (method.md section 4).
    """
    return classname.replace('_', ' ').lower()


@torch.no_grad()
def class_text_features(clip: MaskedCLIP,
                        classnames: Sequence[str],
                        templates: Sequence[str],
                        chunk_size: int = 256) -> Tensor:
    """Encodes every class under every template with the frozen text tower.

    Features of one class are L2-normalised per template, averaged over the
    templates and normalised again (CLIP's prompt ensembling; with a single
    template this is just the normalised feature).

    Args:
        clip: The model whose text encoder to use.
        classnames: Class names (see :func:`prompt_name`).
        templates: Format strings with one ``{}``, e.g. ``'a photo of a {}.'``.
        chunk_size: Prompts encoded per forward pass.

    Returns:
        A ``(num_classes, embed_dim)`` tensor of unit rows.
    """
    if not classnames:
        raise ValueError('No class names given to build the text features.')
    if not templates or any('{}' not in t for t in templates):
        raise ValueError(
            f'Templates must be format strings with one "{{}}", got '
            f'{list(templates)!r}.')
    prompts = [t.format(prompt_name(c)) for c in classnames for t in templates]
    device = clip.logit_scale.device
    features = torch.cat([
        clip.encode_text(
            clip.tokenize(prompts[i:i + chunk_size]).to(device),
            normalize=True) for i in range(0, len(prompts), chunk_size)
    ])
    features = features.view(len(classnames), len(templates), -1).mean(1)
    return torch.nn.functional.normalize(features, dim=-1)


@MODELS.register_module()
class RMTPromptHead(nn.Module):
    """Class features from hand-written prompt templates (zero-shot CLIP's
    head, and R-AMT's). Nothing in it trains.

    The features are cached per ``(class names, templates)``; the dataset's
    templates (CoOp's, method.md section 7) come through
    :meth:`set_classes`.
    """

    fixed_names_must_match = False

    def __init__(self) -> None:
        super().__init__()
        self.classnames: tuple = ()
        self.templates: tuple = ()
        self.register_buffer('features', torch.empty(0), persistent=False)

    def setup(self, clip: MaskedCLIP) -> None:
        """Nothing to create: the features come with the classes."""

    def set_classes(self, clip: MaskedCLIP, classnames: Sequence[str],
                    templates: Sequence[str]) -> None:
        """Builds (or reuses) the class features for a class set."""
        classnames, templates = tuple(classnames), tuple(templates)
        if (classnames, templates) == (self.classnames, self.templates):
            return
        self.features = class_text_features(clip, classnames, templates)
        self.classnames, self.templates = classnames, templates

    def forward(self, clip: MaskedCLIP) -> Tensor:
        """``(num_classes, embed_dim)`` unit class features."""
        return self.features
