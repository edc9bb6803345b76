"""``--cfg-options`` whose values keep their spaces (mmengine's
``DictAction`` deletes every space, so ``pretrained="/w/copy of w.pt"``
became ``/w/copyofw.pt``)."""
import ast
from typing import Any

from mmengine.config import DictAction


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


__all__ = ['CfgOptionsAction']
