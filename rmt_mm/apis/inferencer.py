"""Classify images with a config plus a mask file, in mmpretrain's style."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from ..fileio.config_file import read_config
from .classes import resolve_classes
from .inputs import (DEFAULT_MAX_PIXELS, ImageInput, ImagePreparer,
                     expand_inputs)
from .mask_source import mask_file_config
from .results import to_results


def load_config(config: Union[str, Config],
                cfg_options: Optional[dict] = None) -> Config:
    """A config from a file (or a copy of a given one) with options merged."""
    cfg = read_config(config) if isinstance(config, str) else config.copy()
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


class RMTInferencer:
    """Top-1 labels and class scores of images from a tuned (or zero-shot)
    CLIP classifier.

    Args:
        config: A config file or :class:`Config` (its model, test pipeline
            and, unless ``classnames`` is given, its test dataset's classes);
            ``None`` takes the one ``masks`` records (classifier, classes,
            pretrained source, test pipeline: no training config or data).
        masks: A mask file (``masks_*.pth``); ``None`` for zero-shot CLIP.
        classnames: Classify among these names instead (open vocabulary).
        templates: Prompt templates for ``classnames``.
        cfg_options: Config overrides, as ``--cfg-options`` gives them.
        device: Where the model runs.
        max_pixels: Larger images are refused before decoding.

    Examples:
        >>> inferencer = RMTInferencer(
        ...     masks='demo_output/work/miniature/masks_final.pth')
        >>> result = inferencer('digit.png')[0]
        >>> result['pred_class'], result['pred_score']
        ('seven', 0.93)

    Every call returns one dict per classified image (see
    :func:`~rmt_mm.apis.results.to_results`); files that cannot be read are
    left out, logged, and listed in :attr:`skipped` as ``(path, reason)``.
    """

    def __init__(self,
                 config: Union[str, Config, None] = None,
                 masks: Optional[str] = None,
                 classnames: Optional[Sequence[str]] = None,
                 templates: Optional[Sequence[str]] = None,
                 cfg_options: Optional[dict] = None,
                 device: str = 'cpu',
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        if config is None:
            if masks is None:
                raise ValueError('Give a config, a mask file, or both.')
            config = mask_file_config(masks)
        cfg = load_config(config, cfg_options)
        self.classnames, self.templates = resolve_classes(
            cfg, classnames, templates)
        cfg.model.backbone.mask_file = masks
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
        self.model = MODELS.build(cfg.model).to(device).eval()
        self.model.set_classes(self.classnames, self.templates)
        self.preparer = ImagePreparer.from_config(
            cfg, self.model.data_preprocessor, max_pixels=max_pixels)
        self.skipped: List[Tuple[Union[str, int], str]] = []

    def _skip(self, name: Union[str, int], reason: str) -> None:
        self.skipped.append((name, reason))
        print_log(f'Skipped {name}: {reason}', logger='current',
                  level=30)

    @torch.no_grad()
    def __call__(self,
                 inputs: Union[ImageInput, Sequence[ImageInput]],
                 batch_size: int = 8,
                 progress: bool = False) -> List[dict]:
        """Classifies image paths, folders, arrays (RGB) or PIL images.

        Args:
            inputs: One input or a list of them.
            batch_size: Images per forward pass.
            progress: Show a progress bar on stderr.
        """
        self.skipped = []
        results = []
        for names, images in self.preparer.batches(
                expand_inputs(inputs), batch_size, self._skip, progress):
            samples = self.model.predict(images)
            scores = torch.stack([s.pred_score for s in samples])
            results += to_results(names, scores, self.classnames)
        return results
