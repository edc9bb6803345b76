"""The rule for the names rmt_mm registers, and the old names' aliases.

**Every type rmt_mm registers is called ``RMT<Name>``**, in every registry
(models, datasets, hooks, optim wrappers, samplers, transforms, model
wrappers). mmpretrain registers ``CLIP``, ``CLIPZeroShot`` and hundreds of
other names in the same registries; the prefix keeps rmt_mm's apart and
tells a config's reader which parts come from rmt_mm. Python classes keep
readable names: ``MaskedCLIP`` is registered as ``RMTMaskedCLIP`` and
``FewShotDTD`` as ``RMTFewShotDTD``; classes already called ``RMT...`` are
registered under their own name.

Names registered before the rule keep working for configs already written:
each builds exactly what its new name builds, with a warning naming the new
name (:data:`DEPRECATED_NAMES` lists them).
"""
import warnings
from typing import Any, Callable, Dict, Optional, TypeVar

from mmengine.registry import Registry

PREFIX = 'RMT'
#: Old registered name -> the name that replaced it.
DEPRECATED_NAMES: Dict[str, str] = {}

T = TypeVar('T', bound=type)


def register(registry: Registry,
             name: str,
             old_name: Optional[str] = None) -> Callable[[T], T]:
    """Class decorator: registers the class as ``name`` and, when given,
    ``old_name`` as its deprecated alias.

    Args:
        registry: The registry.
        name: The registered name, ``RMT...``.
        old_name: The name the class was registered under before.
    """

    def decorate(cls: T) -> T:
        registry.register_module(name=name, module=cls)
        if old_name is not None:
            register_deprecated_alias(registry, old_name, name)
        return cls

    return decorate


def register_deprecated_alias(registry: Registry, old_name: str,
                              new_name: str) -> None:
    """Registers ``old_name`` as a builder of what ``new_name`` builds, with
    a warning naming ``new_name``.

    The warning is a FutureWarning, Python's category for deprecations
    aimed at users (a DeprecationWarning is hidden outside ``__main__``).

    Args:
        registry: The registry holding ``new_name``.
        old_name: The deprecated name.
        new_name: The registered name that replaces it.
    """
    target = registry.module_dict[new_name]

    def build(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(
            f"The type name '{old_name}' is deprecated: write "
            f"type='{new_name}' (rmt_mm registers every type as RMT<Name>).",
            FutureWarning,
            stacklevel=2)
        return target(*args, **kwargs)

    build.__name__ = build.__qualname__ = old_name
    build.__doc__ = f'Deprecated name of ``{new_name}``.'
    registry.register_module(name=old_name, module=build)
    DEPRECATED_NAMES[old_name] = new_name


def current_name(type_name: Any) -> Any:
    """The current name of a config's ``type`` (an optional registry scope
    kept, e.g. ``mmpretrain.ParameterSelector`` ->
    ``mmpretrain.RMTParameterSelector``); other names and classes as they
    are."""
    if not isinstance(type_name, str):
        return type_name
    scope, dot, name = type_name.rpartition('.')
    return scope + dot + DEPRECATED_NAMES.get(name, name)
