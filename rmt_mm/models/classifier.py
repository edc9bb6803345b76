"""The mmpretrain-style R-AMT classifier: masked CLIP image features against
cached class text features."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from .masked_clip import MaskedCLIP
from .text_head import class_text_features


def distillation_loss(student: Tensor, teacher: Tensor,
                      temperature: float = 1.0) -> Tensor:
    """``T^2 * mean_b sum_c -softmax(t/T)_c * log softmax(s/T)_c``.

    The gradient equals that of ``KL(teacher || student)``; the teacher
    logits are treated as constants.
    """
    target = F.softmax(teacher.detach() / temperature, dim=-1)
    log_pred = F.log_softmax(student / temperature, dim=-1)
    return -(target * log_pred).sum(-1).mean() * temperature**2


@MODELS.register_module()
class RMTClassifier(BaseModel):
    """Few-shot CLIP classifier trained by Regularized Mask Tuning.

    The head is not learned: it is the L2-normalised text features of the
    class names under the dataset's templates, computed once by the frozen
    text encoder (see :meth:`set_classes`). Logits are
    ``exp(logit_scale) * cos(image feature, class feature)``.

    In ``loss`` mode it returns the task loss terms (``loss_ce`` and
    ``loss_sparsity``, which mmengine sums) and logs the distillation term
    ``reg_distill``; the differentiable distillation term is left in
    :attr:`pending_reg_loss` for :class:`GradDropoutOptimWrapper`, which uses
    it only to decide which task-gradient entries to drop.

    Args:
        backbone: Config of the :class:`MaskedCLIP`.
        classnames: Fixed class names; ``None`` takes them from the dataset
            (through ``RMTClassPromptHook``).
        templates: Prompt templates for fixed class names.
        sparsity_weight: ``beta`` of the score-norm penalty (``1e-4``).
        distill: Compute the zero-shot teacher and the distillation term.
        temperature: Distillation temperature ``T`` (``1``).
        data_preprocessor: Defaults to ``ClsDataPreprocessor``.
        init_cfg: Unused; kept for the mmengine interface.
    """

    def __init__(self,
                 backbone: dict,
                 classnames: Optional[Sequence[str]] = None,
                 templates: Sequence[str] = ('a photo of a {}.', ),
                 sparsity_weight: float = 1e-4,
                 distill: bool = True,
                 temperature: float = 1.0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone: MaskedCLIP = MODELS.build(backbone)
        self.sparsity_weight = sparsity_weight
        self.distill = distill
        self.temperature = temperature
        self.fixed_classes = classnames is not None
        self.classnames: tuple = ()
        self.templates: tuple = ()
        self.register_buffer('text_features', torch.empty(0), persistent=False)
        self.pending_reg_loss: Optional[Tensor] = None
        if classnames is not None:
            self.set_classes(classnames, templates)

    def set_classes(self, classnames: Sequence[str],
                    templates: Sequence[str]) -> None:
        """Builds (or reuses) the class text features for a class set."""
        classnames, templates = tuple(classnames), tuple(templates)
        if (classnames, templates) == (self.classnames, self.templates):
            return
        self.text_features = class_text_features(self.backbone, classnames,
                                                 templates)
        self.classnames, self.templates = classnames, templates

    def logits(self, images: Tensor, masked: bool = True) -> Tensor:
        """``exp(logit_scale) * cosine`` against the class text features."""
        if not len(self.classnames):
            raise RuntimeError(
                'RMTClassifier has no classes yet: give `classnames` in the '
                'model config or add RMTClassPromptHook to custom_hooks so '
                'that the dataset\'s classes and templates are used.')
        features = self.backbone.encode_image(
            images, masked=masked, normalize=True)
        return self.backbone.logit_scale * features @ self.text_features.t()

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

    def loss(self, inputs: Tensor,
             data_samples: List[DataSample]) -> Dict[str, Tensor]:
        """Task loss terms, plus the distillation and sparsity for logs."""
        labels = torch.cat([s.gt_label for s in data_samples]).to(inputs.device)
        student = self.logits(inputs)
        losses = dict(
            loss_ce=F.cross_entropy(student, labels),
            loss_sparsity=self.sparsity_weight *
            self.backbone.masks.sparsity_loss())
        self.pending_reg_loss = None
        if self.distill:
            with torch.no_grad():
                teacher = self.logits(inputs, masked=False)
            self.pending_reg_loss = distillation_loss(student, teacher,
                                                      self.temperature)
            losses['reg_distill'] = self.pending_reg_loss.detach()
        losses['sparsity'] = student.new_tensor(
            self.backbone.sparsity()['overall'])
        return losses

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
