"""The mmpretrain-style classifier, composed of registered parts: a
(masked) CLIP image encoder, a class head, an optional cache adapter and an
optional regulariser. R-AMT, CoOp, Tip-Adapter(-F) and their combinations
differ only in that list (configs/rmt/README.md)."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from .masked_clip import MaskedCLIP


#: R-AMT's regulariser, the default.
DISTILLATION = dict(type='RMTZeroShotDistillation', temperature=1.0)


@MODELS.register_module()
class RMTClassifier(BaseModel):
    """Few-shot CLIP classifier: image features against class features.

    Logits are ``exp(logit_scale) * cos(image feature, class feature)``,
    refined by the adapter when there is one. The parts:

    - ``backbone``: a :class:`MaskedCLIP` (with masks for R-AMT, without
      (``mask_targets=None``) for CoOp and Tip-Adapter).
    - ``head``: ``RMTPromptHead`` (hand-written templates) or
      ``RMTCoOpHead`` (learnable context).
    - ``adapter``: ``None`` or ``RMTTipAdapter``.
    - ``regularizer``: ``RMTZeroShotDistillation`` or ``None``; its
      teacher is this classifier with every mask kept.

    In ``loss`` mode it returns the task loss terms (``loss_ce`` and, with
    masks, ``loss_sparsity``, which mmengine sums) and logs the regulariser
    and the sparsity. The differentiable regularisation loss is handed to
    the optim wrapper by :meth:`pop_regularization_loss`; gradient dropout
    applies to :meth:`gradient_dropout_parameters` only.

    Args:
        backbone: Config of the :class:`MaskedCLIP`.
        head: Config of the class head.
        adapter: Config of the cache adapter, or ``None``.
        regularizer: Config of the regulariser (R-AMT's zero-shot
            distillation by default), or ``None`` (methods without masks).
        classnames: Fixed class names; ``None`` takes them from the dataset
            (through ``RMTClassPromptHook``).
        templates: Prompt templates for fixed class names.
        sparsity_weight: ``beta`` of the score-norm penalty (``1e-4``).
        data_preprocessor: Defaults to ``ClsDataPreprocessor``.
        init_cfg: Unused; kept for the mmengine interface.
    """

    def __init__(self,
                 backbone: dict,
                 head: Optional[dict] = None,
                 adapter: Optional[dict] = None,
                 regularizer: Optional[dict] = DISTILLATION,
                 classnames: Optional[Sequence[str]] = None,
                 templates: Sequence[str] = ('a photo of a {}.', ),
                 sparsity_weight: float = 1e-4,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone: MaskedCLIP = MODELS.build(backbone)
        self.head: nn.Module = MODELS.build(head or dict(type='RMTPromptHead'))
        self.head.setup(self.backbone)
        self.adapter: Optional[nn.Module] = (MODELS.build(adapter)
                                             if adapter else None)
        self.regularizer: Optional[nn.Module] = (MODELS.build(regularizer)
                                                 if regularizer else None)
        self.sparsity_weight = sparsity_weight
        self.fixed_classes = classnames is not None
        self._reg_loss: Optional[Tensor] = None
        if classnames is not None:
            self.set_classes(classnames, templates)

    # ------------------------------------------------------------ classes
    @property
    def classnames(self) -> tuple:
        """The class names the head currently scores."""
        return self.head.classnames

    def set_classes(self, classnames: Sequence[str],
                    templates: Sequence[str]) -> None:
        """Gives the head a class set (features are cached per set)."""
        self.head.set_classes(self.backbone, classnames, templates)

    def set_dataset_classes(self, classnames: Sequence[str],
                            templates: Sequence[str]) -> None:
        """The classes of the dataset being run; a model with fixed class
        names keeps them.

        Raises:
            ValueError: If the head is trained on the dataset's labels
                (CoOp) and the fixed names differ from the dataset's.
        """
        if not self.fixed_classes:
            self.set_classes(classnames, templates)
        elif (self.head.fixed_names_must_match
              and tuple(classnames) != tuple(self.classnames)):
            raise ValueError(
                f'{type(self.head).__name__} was given fixed classnames '
                f'{list(self.classnames)[:5]}... that differ from the '
                f"dataset's {list(classnames)[:5]}...; its context is "
                "trained on the dataset's labels. Remove `classnames` from "
                'the model config (the dataset gives them) or give exactly '
                "the dataset's names in its order.")

    @property
    def text_features(self) -> Tensor:
        """The unit class features (no gradient)."""
        with torch.no_grad():
            return self._class_features()

    def _class_features(self) -> Tensor:
        if not len(self.classnames):
            raise RuntimeError(
                'RMTClassifier has no classes yet: give `classnames` in the '
                'model config or add RMTClassPromptHook to custom_hooks so '
                'that the dataset\'s classes and templates are used.')
        return self.head(self.backbone)

    # ------------------------------------------------------------- logits
    def logits(self,
               images: Tensor,
               masked: bool = True,
               class_features: Optional[Tensor] = None) -> Tensor:
        """``exp(logit_scale) * cosine`` against the class features, plus
        the adapter's cache logits when there is one.

        Args:
            images: Preprocessed images.
            masked: ``False`` runs the image encoder with every mask kept.
            class_features: Reuse these class features (one head pass per
                training step); ``None`` asks the head.
        """
        if class_features is None:
            class_features = self._class_features()
        features = self.backbone.encode_image(
            images, masked=masked, normalize=True)
        logits = self.backbone.logit_scale * features @ class_features.t()
        if self.adapter is not None:
            logits = self.adapter(features, logits)
        return logits

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """mmengine's entry point: ``'tensor'``, ``'loss'`` or ``'predict'``."""
        if mode == 'tensor':
            return self.logits(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    # --------------------------------------------------------------- loss
    def loss(self, inputs: Tensor,
             data_samples: List[DataSample]) -> Dict[str, Tensor]:
        """Task loss terms, plus the regulariser and sparsity for logs."""
        labels = torch.cat([s.gt_label for s in data_samples]).to(inputs.device)
        class_features = self._class_features()
        student = self.logits(inputs, class_features=class_features)
        losses = dict(loss_ce=F.cross_entropy(student, labels))
        masks = self.backbone.masks
        if self.backbone.has_masks:
            losses['loss_sparsity'] = (self.sparsity_weight *
                                       masks.sparsity_loss())
        self._reg_loss = None
        if self.regularizer is not None:
            with torch.no_grad():
                teacher = self.logits(
                    inputs, masked=False,
                    class_features=class_features.detach())
            self._reg_loss = self.regularizer(student, teacher)
            losses[self.regularizer.log_key] = self._reg_loss.detach()
        if self.backbone.has_masks:
            losses['sparsity'] = student.new_tensor(
                self.backbone.sparsity()['overall'])
        return losses

    def pop_regularization_loss(self) -> Optional[Tensor]:
        """The differentiable regularisation loss of the last ``loss`` call,
        handed over once (the next call returns ``None``); ``None`` without
        a regulariser. ``GradDropoutOptimWrapper`` calls this after the
        forward pass of every training step."""
        reg, self._reg_loss = self._reg_loss, None
        return reg

    def gradient_dropout_parameters(self) -> List[nn.Parameter]:
        """The parameters gradient dropout applies to: the mask scores.
        Every other trainable parameter (CoOp context, Tip-Adapter-F keys)
        gets its plain task gradient."""
        return [s for _, s in self.backbone.masks.items()]

    # ------------------------------------------------------------ predict
    def predict(self,
                inputs: Tensor,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """Scores (softmax) and labels as mmpretrain ``DataSample``s."""
        scores = F.softmax(self.logits(inputs), dim=-1)
        labels = scores.argmax(dim=-1, keepdim=True)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(len(scores))]
        for sample, score, label in zip(data_samples, scores, labels):
            sample.set_pred_score(score).set_pred_label(label)
        return data_samples
