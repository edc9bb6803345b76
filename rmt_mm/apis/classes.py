"""Where an inference task's class names and prompt templates come from."""
from typing import Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

from ..datasets.templates import PHOTO

Classes = Tuple[Tuple[str, ...], Tuple[str, ...]]


def check_classnames(classnames: Sequence[str]) -> Tuple[str, ...]:
    """Strips the names and refuses an empty list or blank names.

    Raises:
        ValueError: If there is no class name or one is blank.
    """
    names = tuple(str(name).strip() for name in classnames)
    if not names or not all(names):
        raise ValueError(
            f'Class names must be a non-empty list of non-blank names, got '
            f'{list(classnames)!r}; e.g. ["cat", "dog"].')
    return names


def config_classes(cfg: Config) -> Classes:
    """The classes and templates a config evaluates with, as
    ``tools/test.py`` does: fixed ``model.classnames`` or the test dataset's
    ``metainfo`` (which needs the dataset on disk).

    Raises:
        ValueError: If neither can be read; the message says to give class
            names instead.
    """
    model = cfg.model
    if model.get('classnames'):
        return (check_classnames(model.classnames),
                tuple(model.get('templates', PHOTO)))
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    try:
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
        classes = dataset.metainfo.get('classes')
    except Exception as error:
        raise ValueError(
            'Could not read the class names from the config\'s test dataset '
            f'({type(error).__name__}: {error}). Give them explicitly '
            '(classnames=[...], or --classes on the command line).'
        ) from None
    if not classes:
        raise ValueError('The config\'s test dataset has no class names; '
                         'give them explicitly (classnames=[...]).')
    return (check_classnames(classes),
            tuple(dataset.metainfo.get('templates', PHOTO)))


def resolve_classes(cfg: Config,
                    classnames: Optional[Sequence[str]] = None,
                    templates: Optional[Sequence[str]] = None) -> Classes:
    """Given class names (open vocabulary, ``'a photo of a {}.'`` unless
    templates are given) or else the config's classes.

    Raises:
        ValueError: If given class names are empty, blank or repeated, or
            the config's classes cannot be read.
    """
    if classnames is None:
        names, config_templates = config_classes(cfg)
        return names, tuple(templates or config_templates)
    names = check_classnames(classnames)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f'Class names must differ, but {repeated} appear more than once '
            f'in {list(names)!r}: classes of one name get the same text '
            'feature and cannot be told apart.')
    return names, tuple(templates or PHOTO)
