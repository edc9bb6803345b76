"""Contrastive pre-training of the miniature CLIP on rendered scenes.

Every step draws a fresh batch of plain-style scenes (never a held-out
colour-shape pair, :func:`.held_out_pairs`) with captions, and minimises
CLIP's symmetric cross-entropy. Captions leave attributes out, so several
captions of a batch can describe one image truthfully; the targets are
therefore spread uniformly over every caption that fits an image (and
every image a caption fits) instead of the diagonal alone. The run depends
only on the seed (and the thread count, through float summation order).
"""
import math
from typing import Callable, Optional, Sequence

import numpy as np
import open_clip
import torch
from torch import Tensor, nn

from rmt_mm.models.heads.prompt_head import prompt_name
from rmt_mm.models.open_clip_loader import build_tokenizer
from .scenes import (CAPTION_TEMPLATES, COLOURS, POSITIONS, SHAPES, SIZES,
                     TEXTURES, caption_fits, describe, held_out_pairs, render,
                     sample_scenes)

MINI_CLIP_ARCH = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=32, layers=3, width=64, patch_size=8,
                    head_width=32),
    text_cfg=dict(context_length=16, vocab_size=49408, width=64, heads=2,
                  layers=2))
# OpenAI CLIP's normalisation (RGB, 0-255), as in the rmt_mm configs.
CLIP_MEAN = (122.770938, 116.7460125, 104.09373615)
CLIP_STD = (68.5005327, 66.6321579, 70.32316305)


def to_input(images: np.ndarray) -> Tensor:
    """uint8 ``(N, H, W, 3)`` RGB images -> normalised ``(N, 3, H, W)``."""
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (pixels - mean) / std


def multi_positive_clip_loss(image_features: Tensor, text_features: Tensor,
                             logit_scale: Tensor, fits: Tensor) -> Tensor:
    """CLIP's symmetric cross-entropy with ``fits[i, j]`` (caption ``j``
    describes image ``i``; the diagonal is true) as uniform soft targets."""
    logits = logit_scale * image_features @ text_features.t()
    targets = fits.float()
    image_to_text = -(targets / targets.sum(1, keepdim=True) *
                      logits.log_softmax(1)).sum(1).mean()
    text_to_image = -(targets.t() / targets.t().sum(1, keepdim=True) *
                      logits.t().log_softmax(1)).sum(1).mean()
    return (image_to_text + text_to_image) / 2


class WorldVocabulary:
    """Trains only the token embeddings of the world's words.

    The open_clip tokenizer has 49,408 tokens and the world's captions use
    a few dozen; a full embedding table would make each step's gradient and
    optimiser update ~30x larger than the rest of the text tower. While
    training, the model holds a compact table of the used rows (a copy of
    their initial values) and token ids are mapped into it; :meth:`restore`
    writes the rows back into the full table, whose other rows keep their
    random initial values.
    """

    def __init__(self, tokenizer: Callable, model: nn.Module) -> None:
        words = (list(COLOURS) + list(SHAPES) + list(SIZES) + list(TEXTURES)
                 + list(POSITIONS) + list(CAPTION_TEMPLATES))
        used = torch.unique(tokenizer(words))
        self.used = used
        self.lookup = torch.zeros(model.vocab_size, dtype=torch.long)
        self.lookup[used] = torch.arange(len(used))
        self.full = model.token_embedding
        model.token_embedding = nn.Embedding.from_pretrained(
            self.full.weight.detach()[used].clone(), freeze=False)

    def compact(self, tokens: Tensor) -> Tensor:
        """Token ids -> rows of the compact table."""
        return self.lookup[tokens]

    def restore(self, model: nn.Module) -> None:
        """Puts the full table, updated with the trained rows, back."""
        with torch.no_grad():
            self.full.weight[self.used] = model.token_embedding.weight
        model.token_embedding = self.full


def pretrain(arch: Optional[dict] = None,
             steps: int = 800,
             batch_size: int = 128,
             lr: float = 2e-3,
             seed: int = 0,
             log: Callable[[str], None] = print,
             log_interval: int = 50) -> nn.Module:
    """Pre-trains a miniature CLIP from scratch.

    Args:
        arch: open_clip CLIP config, default :data:`MINI_CLIP_ARCH`.
        steps: Optimiser steps (one fresh batch each).
        batch_size: Image-caption pairs per step.
        lr: AdamW's peak learning rate (5 % linear warm-up, cosine decay).
        seed: Seeds the model's initialisation and the scene stream.
        log: Receives progress lines.
        log_interval: Steps between progress lines.

    Returns:
        The trained model in eval mode.
    """
    arch = dict(arch or MINI_CLIP_ARCH)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = open_clip.CLIP(**arch)
    model.train()
    tokenizer = build_tokenizer(arch)
    vocab = WorldVocabulary(tokenizer, model)
    pairs = [(colour, shape) for colour in COLOURS for shape in SHAPES
             if (colour, shape) not in held_out_pairs()]
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [dict(params=decay, weight_decay=0.1),
         dict(params=no_decay, weight_decay=0.)],
        lr=lr, betas=(0.9, 0.98), eps=1e-6)
    warmup = max(1, steps // 20)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) /
                                   max(1, steps - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    for step in range(steps):
        scenes = sample_scenes(rng, batch_size, pairs)
        images = to_input(render(scenes, rng, 'plain'))
        texts, mentioned = describe(scenes, rng)
        fits = torch.from_numpy(caption_fits(scenes, mentioned))
        loss = multi_positive_clip_loss(
            model.encode_image(images, normalize=True),
            model.encode_text(vocab.compact(tokenizer(texts)),
                              normalize=True),
            model.logit_scale.exp(), fits)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if (step + 1) % log_interval == 0 or step + 1 == steps:
            log(f'step {step + 1}/{steps}  loss {loss.item():.4f}  '
                f'logit scale {model.logit_scale.exp().item():.1f}')
    vocab.restore(model)
    return model.eval()


@torch.no_grad()
def zero_shot_top1(model: nn.Module, tokenizer: Callable,
                   images: np.ndarray, labels: Sequence[int],
                   classnames: Sequence[str],
                   template: str = 'a photo of a {}.') -> float:
    """Zero-shot top-1 accuracy (percent) of an open_clip model.

    Args:
        model: The CLIP.
        tokenizer: Its tokenizer.
        images: uint8 ``(N, H, W, 3)`` RGB images at the model's size.
        labels: Index into ``classnames`` per image.
        classnames: Class names, put into ``template`` as rmt_mm does.
        template: The prompt.
    """
    texts = [template.format(prompt_name(name)) for name in classnames]
    text_features = model.encode_text(tokenizer(texts), normalize=True)
    image_features = model.encode_image(to_input(images), normalize=True)
    predicted = (image_features @ text_features.t()).argmax(1).numpy()
    return float(100 * np.mean(predicted == np.asarray(labels)))


def save_weights(model: nn.Module, path: str) -> None:
    """Saves the state dict in fp16 (a plain dict of tensors, readable with
    ``torch.load(..., weights_only=True)``; rmt_mm loads it into fp32)."""
    torch.save({k: v.half() for k, v in model.state_dict().items()}, path)
