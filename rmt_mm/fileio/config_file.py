"""Reading a config file with a one-line refusal (mmengine names neither
the file of a syntax error nor the config whose ``_base_`` is missing),
into a config that formats its text once."""
import os.path as osp
from collections import OrderedDict

from mmengine.config import Config

from .safe_load import FileRefusedError

#: Formatted texts by unformatted text, the most recent last.
_FORMATTED: 'OrderedDict[str, str]' = OrderedDict()
_FORMATTED_KEPT = 16


class FormattedOnceConfig(Config):
    """A ``Config`` whose ``pretty_text`` runs yapf once per content.

    mmengine's Runner formats the whole config again for its log, the
    dumped copy, the visualizer and the meta of every checkpoint, about
    0.4 s each: most of a small run's start-up. The text is the same as
    ``Config``'s; a changed config is formatted anew.
    """

    @classmethod
    def of(cls, cfg: Config) -> 'FormattedOnceConfig':
        """The same config (its state shared, not copied) as this class."""
        other = cls.__new__(cls)
        for key, value in cfg.__dict__.items():
            object.__setattr__(other, key, value)
        return other

    @property
    def pretty_text(self) -> str:
        if not self._format_python_code:
            return super().pretty_text
        # Config.__setattr__ sets config entries; the flag is an attribute.
        object.__setattr__(self, '_format_python_code', False)
        try:
            unformatted = super().pretty_text
        finally:
            object.__setattr__(self, '_format_python_code', True)
        if unformatted in _FORMATTED:
            _FORMATTED.move_to_end(unformatted)
        else:
            _FORMATTED[unformatted] = super().pretty_text
            while len(_FORMATTED) > _FORMATTED_KEPT:
                _FORMATTED.popitem(last=False)
        return _FORMATTED[unformatted]


def read_config(path: str, **kwargs) -> FormattedOnceConfig:
    """``Config.fromfile(path, **kwargs)``, with a readable refusal, as a
    :class:`FormattedOnceConfig`.

    Raises:
        FileRefusedError: If the config (or a file it inherits) does not
            exist or cannot be read.
    """
    if not osp.isfile(path):
        raise FileRefusedError(
            f'Config {path!r} does not exist. Check the path (configs/... '
            'relative to the folder you run the tool from).')
    try:
        return FormattedOnceConfig.of(Config.fromfile(path, **kwargs))
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
