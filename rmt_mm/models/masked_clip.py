"""MaskedCLIP: an open_clip CLIP whose selected image-encoder weights carry
learnable binary masks (Regularized Mask Tuning)."""
import fnmatch
import json
import logging
from contextlib import nullcontext
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from open_clip.modified_resnet import ModifiedResNet
from torch import Tensor
from torch.func import functional_call

from ..fileio.mask_file import load_mask_file, save_mask_file
from ..fileio.safe_load import FileRefusedError, content_checksum
from ..registry import register
from ..version import __version__
from .masks import MaskScores, names_in_state_dict
from .open_clip_loader import ArchSpec, build_open_clip, build_tokenizer

#: The paper's choice for ViT towers: patch embedding plus the attention
#: projections of every block.
VIT_MASK_TARGETS = (
    'visual.conv1.weight',
    'visual.transformer.resblocks.*.attn.in_proj_weight',
    'visual.transformer.resblocks.*.attn.out_proj.weight',
)
#: The same idea for ModifiedResNet towers: stem conv1 plus the attention
#: pooling projections.
RESNET_MASK_TARGETS = (
    'visual.conv1.weight',
    'visual.attnpool.[qkvc]_proj.weight',
)
PAPER = 'paper'
#: ``'paper'``, glob patterns, or ``None`` for a CLIP without masks.
MaskTargets = Optional[Union[str, Sequence[str]]]


def _pad_names(names: Sequence[str], limit: int) -> str:
    shown = list(names[:limit])
    return '\n  '.join(shown) + ('\n  ...' if len(names) > limit else '')


@register(MODELS, 'RMTMaskedCLIP', old_name='MaskedCLIP')
class MaskedCLIP(BaseModule):
    """An open_clip CLIP with binary masks on chosen image-encoder weights.

    The frozen CLIP weights exist once. The student pass runs the image
    encoder with ``W * 1[M > threshold]`` substituted for each masked weight
    (straight-through gradient to the scores ``M`` while training); the
    teacher pass (``masked=False``) runs the very same modules with the plain
    weights. With fresh scores both passes equal zero-shot CLIP bit for bit.

    Args:
        arch: An open_clip model name or a dict of open_clip model config.
        pretrained: ``None`` (random init), an open_clip pretrained tag
            (e.g. ``'openai'``) or a local OpenAI JIT archive / state dict.
        mask_targets: ``'paper'`` (the paper's set for this tower type), a
            list of glob patterns over parameter names such as
            ``'visual.transformer.resblocks.*.attn.in_proj_weight'``, or
            ``None`` for plain CLIP without masks (CoOp, Tip-Adapter).
        score_init: Initial mask score (``1e-2``).
        threshold: Binarisation threshold ``alpha`` (``5e-3``).
        score_stagger: ``None`` (every score starts at ``score_init``, the
            paper), ``'magnitude'`` or ``'uniform'``: initial scores spread
            around ``score_init`` (see :meth:`MaskScores.stagger`).
        quick_gelu: Force QuickGELU; ``None`` picks it for OpenAI weights.
        mask_file: A mask file (``masks_*.pth``) to load; its selection
            replaces ``mask_targets``. A file whose selection a
            ``ParameterSelector`` made (see :attr:`selection`) may differ
            from ``mask_targets``; any other file must match them.
        allow_other_weights: Apply ``mask_file``, or load a checkpoint's
            mask scores, even if they were learned on other weights than
            this model's (the fingerprint of the masked weights differs);
            refused by default.
        init_cfg: Unused; kept for the mmengine interface.

    Examples:
        >>> import torch
        >>> from rmt_mm.models import MaskedCLIP
        >>> tiny = dict(embed_dim=16,
        ...             vision_cfg=dict(image_size=32, layers=2, width=32,
        ...                             patch_size=8, head_width=16),
        ...             text_cfg=dict(context_length=16, vocab_size=49408,
        ...                           width=32, heads=2, layers=1))
        >>> clip = MaskedCLIP(arch=tiny)
        >>> clip.encode_image(torch.rand(1, 3, 32, 32)).shape
        torch.Size([1, 16])
        >>> clip.sparsity()['overall']
        0.0
    """

    def __init__(self,
                 arch: ArchSpec,
                 pretrained: Optional[str] = None,
                 mask_targets: MaskTargets = PAPER,
                 score_init: float = 1e-2,
                 threshold: float = 5e-3,
                 score_stagger: Optional[str] = None,
                 quick_gelu: Optional[bool] = None,
                 mask_file: Optional[str] = None,
                 allow_other_weights: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        # Plain JSON-like data (configs hand in ConfigDicts and tuples), as
        # it is recorded in mask files and compared when loading them.
        self.arch = json.loads(json.dumps(arch))
        self.pretrained = pretrained
        self.clip = build_open_clip(arch, pretrained, quick_gelu)
        self.clip.requires_grad_(False)
        self.tokenizer = build_tokenizer(arch)
        self.score_init = score_init
        self.threshold = threshold
        self.score_stagger = score_stagger
        self.allow_other_weights = allow_other_weights
        self._drop_folded()
        self._fingerprints: Dict[tuple, str] = {}
        #: How a hook chose the masked weights in place of ``mask_targets``
        #: (``None``: the config's ``mask_targets``); mask files record it.
        self.selection: Optional[dict] = None
        self.set_mask_targets(mask_targets)
        if mask_file is not None and mask_targets is None:
            raise ValueError(
                f'Mask file {mask_file!r} given to a model without masks '
                '(mask_targets=None). Evaluate a mask file with the config '
                'of the method that trained it (one with masks), and this '
                "method's runs with their checkpoint (epoch_N.pth).")
        if mask_file is not None:
            configured = None if mask_targets == PAPER else self.mask_names
            self.load_masks(mask_file, allow_other_weights)
            if (configured is not None and configured != self.mask_names
                    and self.selection is None):
                raise ValueError(
                    f'Mask file {mask_file!r} masks {self.mask_names} but '
                    f'the config asks for mask_targets={mask_targets!r} '
                    f'({configured}). Remove mask_targets from the config '
                    '(the file records its selection) or use the mask file '
                    'of this selection.')
        # Frozen weights never enter a checkpoint: they come back from
        # `pretrained`. Only the mask scores are saved and loaded.
        self._register_state_dict_hook(_drop_frozen_weights)
        self.register_load_state_dict_post_hook(_ignore_frozen_weights)

    # ----------------------------------------------------------- mask set
    def candidate_names(self) -> list:
        """Names of the image-encoder weights that can carry a mask."""
        return [n for n, p in self.clip.named_parameters()
                if n.startswith('visual.') and p.ndim >= 2]

    def resolve_targets(self, mask_targets: MaskTargets) -> list:
        """Expands ``'paper'`` or glob patterns to concrete weight names
        (none for ``None``).

        Raises:
            ValueError: If a pattern matches no candidate weight.
        """
        if mask_targets is None:
            return []
        candidates = self.candidate_names()
        if isinstance(mask_targets, str):
            if mask_targets != PAPER:
                mask_targets = [mask_targets]
            else:
                mask_targets = (RESNET_MASK_TARGETS if isinstance(
                    self.clip.visual, ModifiedResNet) else VIT_MASK_TARGETS)
        selected = []
        for pattern in mask_targets:
            matches = [n for n in candidates
                       if fnmatch.fnmatchcase(n, pattern)]
            if not matches:
                raise ValueError(
                    f'Mask pattern {pattern!r} matches no image-encoder '
                    'weight. Candidates (2-D+ weights of the image encoder):'
                    f'\n  {_pad_names(candidates, 40)}')
            selected += [n for n in matches if n not in selected]
        # Keep the model's parameter order whatever the pattern order.
        return [n for n in candidates if n in selected]

    def set_mask_targets(self, mask_targets: MaskTargets) -> None:
        """(Re)creates fresh mask scores for the given targets, on the
        model's device and in its dtype."""
        names = self.resolve_targets(mask_targets)
        params = dict(self.clip.named_parameters())
        scale = self.clip.logit_scale
        self.masks = MaskScores({n: params[n].shape for n in names},
                                init=self.score_init,
                                threshold=self.threshold,
                                device=scale.device, dtype=scale.dtype)
        if self.score_stagger is not None:
            self.masks.stagger({n: params[n] for n in names},
                               self.score_stagger)
        self._drop_folded()

    @property
    def has_masks(self) -> bool:
        """Whether any weight carries a mask."""
        return len(self.masks) > 0

    @property
    def mask_names(self) -> list:
        """Names of the masked weights, in model order."""
        return list(self.masks.names)

    # ------------------------------------------------------------ passes
    def _trains_masks(self) -> bool:
        return self.training and torch.is_grad_enabled()

    def effective_weights(self) -> Dict[str, Tensor]:
        """Masked weights of the image encoder, keyed relative to it.

        While training with autograd on, the straight-through estimator
        links them to the scores. Otherwise they are the hard-masked weights,
        folded once and reused until a score changes (evaluation then costs
        what plain CLIP costs, at the memory of one copy of the masked
        weights).
        """
        params = dict(self.clip.visual.named_parameters())
        local = {name: name[len('visual.'):] for name in self.masks.names}
        if self._trains_masks():
            return {
                local[name]: self.masks.effective(name, params[local[name]])
                for name in self.masks.names
            }
        # In-place updates (optimizer steps, copy_) bump a tensor's version;
        # new scores (set_mask_targets) drop the folded weights.
        key = tuple(s._version for _, s in self.masks.items())
        if self._folded_key != key:
            self._folded = {
                local[name]: self.masks.hard_masked(name, params[local[name]])
                for name in self.masks.names
            }
            self._folded_key = key
        return self._folded

    def _drop_folded(self) -> None:
        self._folded: Dict[str, Tensor] = {}
        self._folded_key: Optional[tuple] = None

    def train(self, mode: bool = True) -> 'MaskedCLIP':
        """Also drops the folded evaluation weights when training starts.

        The frozen CLIP itself stays in evaluation mode: BatchNorm layers
        (ResNet towers) keep their pre-trained running statistics in the
        student and the teacher pass, as the authors' code keeps them.
        """
        if mode:
            self._drop_folded()
        super().train(mode)
        self.clip.eval()
        return self

    def encode_image(self,
                     images: Tensor,
                     masked: bool = True,
                     normalize: bool = False) -> Tensor:
        """Image features, as open_clip's ``encode_image``.

        Args:
            images: Normalised images ``(N, 3, H, W)``.
            masked: ``True`` for the masked (student) encoder, ``False`` for
                zero-shot CLIP (teacher) through the same modules.
            normalize: L2-normalise the features.
        """
        if masked and self.has_masks:
            weights = self.effective_weights()
            with (self._rebuilt_in_backward(weights)
                  if self._trains_masks() else nullcontext()):
                features = functional_call(self.clip.visual, weights,
                                           (images, ), strict=False)
        else:
            features = self.clip.visual(images)
        return torch.nn.functional.normalize(
            features, dim=-1) if normalize else features

    def _rebuilt_in_backward(self, weights: Dict[str, Tensor]):
        """:meth:`MaskScores.rebuilt_in_backward` for image-encoder-relative
        weight names."""
        params = dict(self.clip.visual.named_parameters())
        return self.masks.rebuilt_in_backward(
            {f'visual.{k}': v for k, v in weights.items()},
            {f'visual.{k}': params[k] for k in weights})

    def encode_text(self, tokens: Tensor, normalize: bool = False) -> Tensor:
        """Text features of token ids, as open_clip's ``encode_text``."""
        return self.clip.encode_text(tokens, normalize=normalize)

    def tokenize(self, texts: Sequence[str]) -> Tensor:
        """Token ids for ``texts`` with this architecture's tokenizer."""
        return self.tokenizer(list(texts))

    @property
    def logit_scale(self) -> Tensor:
        """``exp(logit_scale)`` of the CLIP model."""
        return self.clip.logit_scale.exp()

    # ------------------------------------------------------- statistics
    def sparsity(self) -> Dict[str, float]:
        """Share of dropped entries per masked tensor and ``'overall'``."""
        return self.masks.sparsity()

    @torch.no_grad()
    def hard_masks(self) -> Dict[str, Tensor]:
        """``{weight name: boolean keep-mask}``."""
        return {n: self.masks.hard_mask(n) for n in self.masks.names}

    @torch.no_grad()
    def load_hard_masks(self, masks: Dict[str, Tensor]) -> None:
        """Makes the masks equal to the given boolean masks, switching the
        mask targets to their names first."""
        if list(masks) != self.mask_names:
            self.set_mask_targets(list(masks))
        self.masks.set_hard_masks(masks)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A mask file handed over as a checkpoint (mask_file_checkpoint):
        # load and check it, then let the scores load as a checkpoint's.
        mask_file = state_dict.pop(prefix + 'mask_file', None)
        if mask_file is not None:
            self.load_masks(mask_file, self.allow_other_weights)
            state_dict.update({f'{prefix}masks.{k}': v for k, v in
                               self.masks.state_dict().items()})
        # A checkpoint may carry another selection than the config's
        # default (e.g. chosen by ParameterSelector): follow the checkpoint.
        names = names_in_state_dict(state_dict, prefix + 'masks.')
        if names and set(names) != set(self.mask_names):
            self.set_mask_targets(names)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ---------------------------------------------------------- mask files
    @torch.no_grad()
    def weights_fingerprint(self, names: Optional[Sequence[str]] = None
                            ) -> str:
        """SHA-256 of the frozen CLIP weights that ``names`` (default: the
        masked weights) name: which weights a mask file belongs to."""
        names = tuple(self.mask_names if names is None else names)
        if names not in self._fingerprints:
            params = dict(self.clip.named_parameters())
            self._fingerprints[names] = content_checksum(
                {name: params[name] for name in names})
        return self._fingerprints[names]

    def save_masks(self, path: str,
                   state: Optional[Dict[str, Tensor]] = None,
                   **meta) -> int:
        """Writes the hard masks (1 bit per entry) and metadata to ``path``.

        Args:
            path: The mask file.
            state: Tensors of trained classifier parts to keep with them.
            **meta: More metadata (plain data).

        Returns:
            The file size in bytes.
        """
        meta = dict(
            meta,
            arch=self.arch,
            pretrained=self.pretrained,
            weights_fingerprint=self.weights_fingerprint(),
            threshold=self.threshold,
            score_init=self.score_init,
            selection=self.selection,
            sparsity=self.sparsity()['overall'],
            rmt_mm_version=__version__)
        return save_mask_file(path, self.hard_masks(), meta, state)

    def load_masks(self, path: str, allow_other_weights: bool = False
                   ) -> None:
        """Loads a mask file written by :meth:`save_masks`.

        Args:
            path: The mask file.
            allow_other_weights: Only warn, instead of refusing, when the
                file was learned on other weights than this model's.

        Raises:
            ValueError: If the file was made for another architecture or its
                masked weights do not exist here.
            FileRefusedError: If the file is unsafe, damaged or was learned
                on other weights.
        """
        masks, meta = load_mask_file(path)
        self.check_mask_file(masks, meta, path, allow_other_weights)
        self.selection = meta.get('selection')
        self.load_hard_masks(masks)

    def check_mask_file(self, masks: Dict[str, Tensor], meta: dict,
                        path: str, allow_other_weights: bool = False) -> None:
        """Checks that masks read from the mask file ``path`` fit this model
        (its architecture, maskable weights and their values).

        Raises:
            ValueError: If the file was made for another architecture or its
                masked weights do not exist here.
            FileRefusedError: If it was learned on other weights (unless
                ``allow_other_weights``).
        """
        if meta.get('arch') != self.arch:
            raise ValueError(
                f'Mask file {path!r} was trained on arch={meta.get("arch")!r}'
                f' but this model is arch={self.arch!r}. Evaluate it with '
                'the config it was trained with.')
        params = dict(self.clip.named_parameters())
        for name, mask in masks.items():
            if name not in params or params[name].shape != mask.shape:
                raise ValueError(
                    f'Mask file {path!r} masks {name!r} with shape '
                    f'{tuple(mask.shape)}, which this model does not have '
                    f'(its maskable weights: {self.candidate_names()[:6]} '
                    '...).')
        self.check_weights(path, meta, list(masks), allow_other_weights)

    def check_weights(self, path: str, meta: dict, names: Sequence[str],
                      allow_other_weights: bool, kind: str = 'Mask file',
                      tools: str = 'tools/test.py, tools/export.py') -> None:
        """Refuses a file learned on other weights than this model's, by
        the fingerprint of the masked weights it records (``meta`` holds
        ``weights_fingerprint`` and ``pretrained``); warns when it records
        none.

        Args:
            kind: What the file is, as the messages name it.
            tools: The tools whose ``--allow-other-weights`` applies it
                anyway.
        """
        recorded = meta.get('weights_fingerprint')
        if recorded is None:
            print_log(
                f'{kind} {path!r} records no fingerprint of its weights '
                '(written before rmt_mm recorded one): cannot check that it '
                'belongs to these weights.', logger='current',
                level=logging.WARNING)
            return
        if recorded == self.weights_fingerprint(names):
            return
        message = (
            f'{kind} {path!r} was learned on other weights than this '
            f'model\'s (file: pretrained={meta.get("pretrained")!r}, this '
            f'model: pretrained={self.pretrained!r}; the fingerprints of the '
            'masked weights differ; random weights follow randomness.seed), '
            'so its masks would cut the wrong entries.')
        if not allow_other_weights:
            raise FileRefusedError(
                f'{message} Load the weights it was learned on, or pass '
                f'--allow-other-weights ({tools}) to apply it anyway.')
        print_log(f'{message} Applied anyway (allow_other_weights).',
                  logger='current', level=logging.WARNING)

    # ------------------------------------------------------------ export
    @torch.no_grad()
    def export_state_dict(self) -> Dict[str, Tensor]:
        """A plain open_clip state dict with the hard masks folded in."""
        state = self.clip.state_dict()
        for name in self.masks.names:
            state[name] = self.masks.hard_masked(name, state[name])
        return state


def _drop_frozen_weights(module, state_dict, prefix, local_metadata):
    for key in [k for k in state_dict if k.startswith(prefix + 'clip.')]:
        del state_dict[key]
    return state_dict


def _ignore_frozen_weights(module, incompatible_keys):
    frozen = [k for k in incompatible_keys.missing_keys if '.clip.' in k
              or k.startswith('clip.')]
    for key in frozen:
        incompatible_keys.missing_keys.remove(key)
