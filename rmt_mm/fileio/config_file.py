"""Reading a config file with a one-line refusal: mmengine names neither
the file of a syntax error nor the config whose ``_base_`` is missing."""
import os.path as osp

from mmengine.config import Config

from .safe_load import FileRefusedError


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
