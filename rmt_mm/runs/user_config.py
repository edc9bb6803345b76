"""Reading what the user hands a tool: the config file and
``--cfg-options``.

A config that cannot be read is refused with one line naming it (mmengine
names neither the file of a syntax error nor the config whose ``_base_``
is missing), and ``--cfg-options`` values keep their spaces (mmengine's
``DictAction`` deletes every space, so ``pretrained="/w/copy of w.pt"``
became ``/w/copyofw.pt``).
"""
import ast
import os.path as osp
from typing import Any

from mmengine.config import Config, DictAction

from ..fileio.safe_load import FileRefusedError


def read_config(path: str, **kwargs) -> Config:
    """``Config.fromfile(path, **kwargs)``, with a readable refusal.

    Raises:
        FileRefusedError: If the config (or a file it inherits) does not
            exist or cannot be read.
    """
    if not osp.isfile(path):
        raise FileRefusedError(
            f'Config {path!r} does not exist. Check the path (configs/... '
            'relative to the folder you run the tool from).')
    try:
        return Config.fromfile(path, **kwargs)
    except FileNotFoundError as error:
        raise FileRefusedError(
            f'Config {path!r} inherits {error.filename!r}, which does not '
            "exist. Fix that _base_ entry (relative to the config's "
            'folder).') from None
    except SyntaxError as error:
        raise FileRefusedError(
            f'Config {path!r} (or a _base_ file it inherits) has a syntax '
            f'error: {error.msg} (line {error.lineno}). Fix it, or start '
            'from a config in configs/.') from None
    except Exception as error:  # noqa: BLE001 (any config code may fail)
        raise FileRefusedError(
            f'Config {path!r} cannot be read ({type(error).__name__}: '
            f'{error}). Configs hold plain values; fix the line it '
            'names.') from None


def _unquoted(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in '\'"':
        return text[1:-1]
    return text


class CfgOptionsAction(DictAction):
    """``--cfg-options KEY=VALUE ...`` read as mmengine's ``DictAction``
    reads them, except that spaces survive.

    A single value (no brackets, no comma) is kept as typed, quotes
    around it removed: ``pretrained="/w/copy of weights.pt"``. A list or
    tuple written as a Python literal keeps its strings whole:
    ``classnames="['red fox', 'cat']"``. Other lists (``1,2``,
    ``[a,b]``) are read as mmengine reads them, without spaces.
    """

    @staticmethod
    def _parse_iterable(val: str) -> Any:
        text = val.strip()
        if text.startswith(('[', '(')):
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                value = None
            if isinstance(value, (list, tuple)):
                return value
        if text.startswith(('[', '(')) or ',' in text:
            return DictAction._parse_iterable(val)
        return DictAction._parse_int_float_bool(_unquoted(text))


__all__ = ['CfgOptionsAction', 'read_config']
