"""Feeds the running dataset's class names and templates to the model."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...datasets.templates import PHOTO


def set_classes_from_dataset(model, dataset) -> None:
    """Gives ``model`` the classes and templates of ``dataset``.

    Class names come from ``dataset.metainfo['classes']``; templates from
    ``metainfo['templates']`` (the few-shot datasets carry CoOp's) or
    ``'a photo of a {}.'``. A model built with fixed ``classnames`` keeps
    them (see ``RMTClassifier.set_dataset_classes``).
    """
    model = model.module if is_model_wrapper(model) else model
    metainfo = getattr(dataset, 'metainfo', None) or {}
    classes = metainfo.get('classes')
    if not classes and model.fixed_classes:
        return
    if not classes:
        raise ValueError(
            f'{type(dataset).__name__} has no metainfo["classes"]; the class '
            'head needs class names. Use a FewShot* dataset or give '
            '`classnames` in the model config.')
    model.set_dataset_classes(
        classes, metainfo.get('templates', PHOTO))


@HOOKS.register_module()
class RMTClassPromptHook(Hook):
    """Builds the text head from the classes of the dataset being run.

    Training uses the training set's classes; validation and testing use
    their own dataset's, so masks trained on base classes are evaluated on
    new classes (or ImageNet variants) with those classes' text features.
    Features are cached per class set, so repeated validation is free.
    """

    priority = 'ABOVE_NORMAL'

    def before_train_epoch(self, runner) -> None:
        set_classes_from_dataset(runner.model, runner.train_dataloader.dataset)

    def before_val(self, runner) -> None:
        set_classes_from_dataset(runner.model, runner.val_dataloader.dataset)

    def before_test(self, runner) -> None:
        set_classes_from_dataset(runner.model, runner.test_dataloader.dataset)
