"""Turns what a user hands in (paths, folders, arrays, PIL images) into model
input batches through a config's test pipeline and data preprocessor."""
import os
import os.path as osp
import stat
import sys
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar
from mmpretrain.registry import MODELS
from PIL import Image
from torch import Tensor, nn

ImageInput = Union[str, Path, np.ndarray, Image.Image]
#: Images above this many pixels are refused before they are decoded.
DEFAULT_MAX_PIXELS = 64 * 1024**2
#: (what the result calls the image, the image source)
Item = Tuple[Union[str, int], ImageInput]
#: Called with (item name, reason) for every image that cannot be used.
OnSkip = Callable[[Union[str, int], str], None]


class ImageInputError(ValueError):
    """An input that is not an image this model can classify."""


def expand_inputs(inputs: Union[ImageInput, Sequence[ImageInput]]
                  ) -> List[Item]:
    """Lists the images behind ``inputs``; folders expand to their files
    (recursively, sorted, hidden files left out). Entries that are not
    regular files (FIFOs, devices, sockets) are listed too: reading refuses
    them with a reason.

    Raises:
        FileNotFoundError: If a given path does not exist.
        TypeError: If an input is of an unsupported type.
    """
    if isinstance(inputs, (str, Path, np.ndarray, Image.Image)):
        inputs = [inputs]
    items: List[Item] = []
    for index, source in enumerate(inputs):
        if isinstance(source, (np.ndarray, Image.Image)):
            items.append((index, source))
        elif isinstance(source, (str, Path)):
            path = str(source)
            if osp.isdir(path):
                items += [(f, f) for f in _files_under(path)]
            elif osp.exists(path):
                items.append((path, path))
            else:
                raise FileNotFoundError(
                    f'Input {path!r} is neither a file nor a folder.')
        else:
            raise TypeError(
                f'Input {index} is a {type(source).__name__}; give image '
                'paths, folders, numpy arrays (H x W x 3 RGB uint8) or PIL '
                'images.')
    return items


def _files_under(folder: str) -> List[str]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith('.')]
        found += [osp.join(root, f) for f in files if not f.startswith('.')]
    return sorted(found)


#: What a file that is not a regular one is, by its ``stat`` test.
_SPECIAL_FILES = ((stat.S_ISFIFO, 'a FIFO (named pipe)'),
                  (stat.S_ISCHR, 'a character device'),
                  (stat.S_ISBLK, 'a block device'),
                  (stat.S_ISSOCK, 'a socket'), (stat.S_ISDIR, 'a folder'))


def _check_regular_file(path: str) -> None:
    """Refuses what is not a regular file before it is opened: reading a
    FIFO or a device can block forever."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        raise ImageInputError(f'cannot be read ({error.strerror})') from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _SPECIAL_FILES if test(mode)),
                    'a special file')
        raise ImageInputError(
            f'{kind}, not an image file: left out, since reading it could '
            'wait forever.')


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width < 1 or height < 1:
        raise ImageInputError(
            f'image is {width} x {height} pixels: there is nothing to '
            'classify.')
    if width * height > max_pixels:
        raise ImageInputError(
            f'image is {width} x {height} pixels ({width * height / 1e6:.0f} '
            f'MP), above the limit of {max_pixels / 1e6:.0f} MP; downscale '
            'it first (or raise max_pixels).')


def _rgb_array(source: Union[np.ndarray, Image.Image]) -> np.ndarray:
    """An ``H x W x 3`` RGB uint8 array from an array or a PIL image."""
    if isinstance(source, Image.Image):
        return np.asarray(source.convert('RGB'))
    if source.dtype != np.uint8:
        raise ImageInputError(
            f'array has dtype {source.dtype}; give uint8 pixels (0-255).')
    if source.ndim == 2:
        return np.stack([source] * 3, axis=-1)
    if source.ndim == 3 and source.shape[-1] in (3, 4):
        return source[..., :3]
    raise ImageInputError(
        f'array has shape {source.shape}; give H x W (grey), H x W x 3 (RGB)'
        ' or H x W x 4 (RGBA).')


class ImagePreparer:
    """Reads images and applies a config's test pipeline and the model's
    data preprocessor, exactly as ``tools/test.py`` does for files.

    Files go through the whole pipeline, including its loading step, so
    their pixels equal those of an evaluation run. Arrays (RGB, as PIL and
    imageio give them) and PIL images skip the loading step and enter as
    the BGR arrays that the loading step would have produced.

    Args:
        pipeline: The test pipeline config (its first step loads the file).
        data_preprocessor: The model's data preprocessor.
        max_pixels: Images with more pixels are refused before decoding.
    """

    def __init__(self,
                 pipeline: Sequence[dict],
                 data_preprocessor: nn.Module,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        pipeline = [dict(step) for step in pipeline]
        if not pipeline or 'LoadImage' not in str(pipeline[0].get('type')):
            raise ValueError(
                'The test pipeline must start with an image loading step '
                f'(e.g. LoadImageFromFile); it starts with {pipeline[:1]}.')
        self.from_file = Compose(pipeline)
        self.from_array = Compose(pipeline[1:])
        self.data_preprocessor = data_preprocessor
        self.max_pixels = max_pixels

    @classmethod
    def from_config(cls, cfg: Config,
                    data_preprocessor: Optional[nn.Module] = None,
                    **kwargs) -> 'ImagePreparer':
        """Uses ``cfg.test_dataloader.dataset.pipeline`` and (unless given)
        builds ``cfg.model.data_preprocessor``."""
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
        pipeline = (cfg.get('test_dataloader') or {}).get(
            'dataset', {}).get('pipeline')
        if not pipeline:
            raise ValueError(
                'The config has no test_dataloader.dataset.pipeline; the '
                'inferencer applies the test pipeline to every image.')
        if data_preprocessor is None:
            preprocessor = dict(cfg.model.get('data_preprocessor') or {})
            preprocessor.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
            data_preprocessor = MODELS.build(preprocessor)
        return cls(pipeline, data_preprocessor, **kwargs)

    def load(self, source: ImageInput) -> dict:
        """One image through the pipeline (a packed ``inputs`` sample).

        Raises:
            ImageInputError: If it is not a readable image or too large.
        """
        if isinstance(source, (str, Path)):
            _check_regular_file(str(source))
            try:
                with Image.open(source) as header:
                    _check_size(*header.size, self.max_pixels)
            except ImageInputError:
                raise
            except Image.DecompressionBombError as error:
                raise ImageInputError(
                    f'image is too large to open safely ({error}); downscale '
                    'it first.') from None
            except Exception as error:  # PIL names the format problem
                raise ImageInputError(
                    f'not a readable image ({error})') from None
            try:
                return self.from_file(dict(img_path=str(source)))
            except Exception as error:
                raise ImageInputError(
                    f'could not be decoded ({error})') from None
        rgb = _rgb_array(source)
        _check_size(rgb.shape[1], rgb.shape[0], self.max_pixels)
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        return self.from_array(
            dict(img=bgr, img_shape=bgr.shape[:2], ori_shape=bgr.shape[:2]))

    def batches(self,
                items: Sequence[Item],
                batch_size: int = 8,
                on_skip: Optional[OnSkip] = None,
                progress: bool = False
                ) -> Iterator[Tuple[list, Tensor]]:
        """Yields ``(item names, preprocessed image batch)``.

        Items that cannot be used are left out and reported to ``on_skip``
        (or raised as :class:`ImageInputError` when it is ``None``).
        """
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
        bar = ProgressBar(len(items), file=sys.stderr) if progress else None
        names, samples = [], []
        for position, (name, source) in enumerate(items):
            try:
                samples.append(self.load(source))
                names.append(name)
            except ImageInputError as error:
                if on_skip is None:
                    raise ImageInputError(f'{_describe(name)}: {error}') \
                        from None
                on_skip(name, str(error))
            if bar is not None:
                bar.update()
            if samples and (len(samples) == batch_size
                            or position == len(items) - 1):
                data = self.data_preprocessor(pseudo_collate(samples), False)
                yield names, data['inputs']
                names, samples = [], []
        if bar is not None:
            sys.stderr.write('\n')


def _describe(name: Union[str, int]) -> str:
    return f'input {name}' if isinstance(name, int) else repr(name)
