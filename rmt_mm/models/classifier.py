"""The mmpretrain-style classifier, composed of registered parts: a
(masked) CLIP image encoder, a class head, an optional cache adapter and an
optional regulariser. R-AMT, CoOp, Tip-Adapter(-F) and their combinations
differ only in that list (configs/rmt/README.md)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from ..datasets.templates import PHOTO
from ..fileio.mask_file import MASK_FILE_KEY, recorded_classes
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

    :meth:`train_step` owns a training step: one forward pass gives the
    task loss terms (``loss_ce`` and, with masks, ``loss_sparsity``, which
    are summed), the regulariser and the sparsity (logged); the task loss,
    the differentiable regularisation loss and the parameters gradient
    dropout applies to (:meth:`gradient_dropout_parameters`) go to the optim
    wrapper explicitly.

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

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        # A mask file handed over as a checkpoint (load_from,
        # mmpretrain.get_model(NAME, pretrained=MASKS)) brings the classes it
        # was trained on, unless the config fixes its own. The class features
        # come from the text tower, which the masks and trained parts loaded
        # below do not change.
        path = state_dict.get(prefix + MASK_FILE_KEY)
        classes = recorded_classes(path) if path is not None else None
        if classes and not self.fixed_classes:
            self.set_classes(classes[0], classes[1] or PHOTO)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

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
        """mmengine's entry point: ``'tensor'``, ``'loss'`` or
        ``'predict'``."""
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
        return self.step_losses(inputs, data_samples)[0]

    def step_losses(self, inputs: Tensor, data_samples: List[DataSample]
                    ) -> Tuple[Dict[str, Tensor], Optional[Tensor]]:
        """One forward pass of a training step.

        Returns:
            The task loss terms (keys with ``loss``, summed by
            :meth:`parse_losses`) with the regulariser and the sparsity for
            the log, and the differentiable regularisation loss (``None``
            without a regulariser).
        """
        labels = torch.cat([s.gt_label for s in data_samples]).to(
            inputs.device)
        class_features = self._class_features()
        student = self.logits(inputs, class_features=class_features)
        losses = dict(loss_ce=F.cross_entropy(student, labels))
        masks = self.backbone.masks
        if self.backbone.has_masks:
            losses['loss_sparsity'] = (self.sparsity_weight *
                                       masks.sparsity_loss())
        regularization = None
        if self.regularizer is not None:
            with torch.no_grad():
                teacher = self.logits(
                    inputs, masked=False,
                    class_features=class_features.detach())
            regularization = self.regularizer(student, teacher)
            losses[self.regularizer.log_key] = regularization.detach()
        if self.backbone.has_masks:
            losses['sparsity'] = student.new_tensor(
                self.backbone.sparsity()['overall'])
        return losses, regularization

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """A whole training step: preprocessing, then :meth:`train_batch`.

        Returns:
            The logged values.
        """
        data = self.data_preprocessor(data, True)
        return self.train_batch(data['inputs'], data['data_samples'],
                                optim_wrapper)

    def train_batch(self, inputs: Tensor, data_samples: List[DataSample],
                    optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """Forward pass, losses and update of a preprocessed batch.

        An optim wrapper that applies gradient dropout (``takes_
        regularization``, e.g. ``GradDropoutOptimWrapper``) gets the task
        loss, the regularisation loss and :meth:`gradient_dropout_parameters`;
        any other (CoOp, Tip-Adapter-F) gets the task loss alone.

        Returns:
            The logged values.
        """
        with optim_wrapper.optim_context(self):
            losses, regularization = self.step_losses(inputs, data_samples)
        task_loss, log_vars = self.parse_losses(losses)
        if getattr(optim_wrapper, 'takes_regularization', False):
            optim_wrapper.update_params(
                task_loss, regularization=regularization,
                dropout_params=self.gradient_dropout_parameters())
        else:
            optim_wrapper.update_params(task_loss)
        return log_vars

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
