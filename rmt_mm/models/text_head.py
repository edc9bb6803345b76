"""Class names x prompt templates -> normalised CLIP text features."""
from typing import Sequence

import torch
from torch import Tensor

from .masked_clip import MaskedCLIP


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
