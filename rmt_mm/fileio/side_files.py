"""The JSON side files of runs and sweeps (``mask_selection.json``,
``sweep_settings.json``, few-shot caches): written atomically, so that a
kill leaves the old file or the new one, and refused by name when damaged.
"""
import json
import os.path as osp
from typing import Any

from .atomic import atomic_write_bytes
from .safe_load import FileRefusedError


def read_json(path: str, remedy: str) -> Any:
    """The content of a JSON file.

    Args:
        path: The file.
        remedy: What the user should do about a damaged file (a sentence).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        FileRefusedError: If it is empty or not valid JSON.
    """
    try:
        with open(path, encoding='utf-8') as file:
            return json.load(file)
    except ValueError as error:  # bad JSON or bad UTF-8
        reason = ('it is empty' if osp.getsize(path) == 0 else
                  f'it is not valid JSON ({error})')
        raise FileRefusedError(
            f'{path!r} is damaged: {reason}. {remedy}') from None


def write_json(path: str, value: Any, indent: int = 1) -> None:
    """Writes ``value`` as JSON, atomically."""
    atomic_write_bytes(json.dumps(value, indent=indent).encode(), path)


__all__ = ['read_json', 'write_json']
