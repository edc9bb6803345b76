"""The benchmark's models, batches and masks: random-weight R-AMT
classifiers of ten classes on the benchmark device, in its dtype."""
import argparse
from contextlib import nullcontext

import torch
from mmpretrain.structures import DataSample

from ...models import MaskedCLIP, RMTClassifier

CLASSNAMES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
              'horse', 'ship', 'truck')
TEMPLATES = ('a photo of a {}.', )
LR = 8e-5
LAM = 0.3
#: Share of mask entries kept in the masks used for evaluation and files.
KEEP_SHARE = 0.9


def dtype_of(args: argparse.Namespace) -> torch.dtype:
    return torch.bfloat16 if args.dtype == 'bf16' else torch.float32


def autocast(args: argparse.Namespace):
    """bf16 autocast under ``--amp``, nothing otherwise."""
    if not args.amp:
        return nullcontext()
    return torch.autocast(args.device, dtype=torch.bfloat16)


def build_model(args: argparse.Namespace) -> RMTClassifier:
    """The R-AMT classifier (paper mask set) on the benchmark device."""
    torch.manual_seed(0)
    model = RMTClassifier(
        backbone=dict(type='RMTMaskedCLIP', arch=args.arch),
        classnames=CLASSNAMES,
        templates=TEMPLATES)
    return model.to(device=args.device, dtype=dtype_of(args))


def image_size(clip: MaskedCLIP) -> int:
    size = clip.clip.visual.image_size
    return size[0] if isinstance(size, (tuple, list)) else int(size)


def make_batch(model: RMTClassifier, args: argparse.Namespace) -> tuple:
    """Normalised random images and their ``DataSample`` labels."""
    generator = torch.Generator().manual_seed(1)
    size = image_size(model.backbone)
    images = torch.randn(
        args.batch_size, 3, size, size, generator=generator).to(
            device=args.device, dtype=dtype_of(args))
    samples = [
        DataSample().set_gt_label(i % len(CLASSNAMES))
        for i in range(args.batch_size)
    ]
    return images, samples


def set_random_masks(backbone: MaskedCLIP, seed: int = 2) -> None:
    """Masks that drop about ``1 - KEEP_SHARE`` of the entries."""
    generator = torch.Generator().manual_seed(seed)
    backbone.load_hard_masks({
        name: torch.rand(tuple(scores.shape), generator=generator) <
        KEEP_SHARE
        for name, scores in backbone.masks.items()
    })


def openclip_logits(clip: torch.nn.Module, images: torch.Tensor,
                    text_features: torch.Tensor) -> torch.Tensor:
    """``RMTClassifier.logits`` computed by a plain open_clip model."""
    features = clip.encode_image(images, normalize=True)
    return clip.logit_scale.exp() * features @ text_features.t()
