"""Few-shot transfer on one's own images: one folder per class."""
import json
import os.path as osp
import random
from typing import Dict, List, Sequence, Tuple, Union

from mmpretrain.registry import DATASETS

from ..registry import register
from . import templates as prompt_templates
from .fewshot import (CACHE_FOLDER, FewShotDataset, Item, read_classnames_file,
                      scan_dir)

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')
SPLIT_NAMES = ('train', 'val', 'test')


@register(DATASETS, 'RMTFewShotImageFolder', old_name='FewShotImageFolder')
class FewShotImageFolder(FewShotDataset):
    """Images sorted into one folder per class, with CoOp's few-shot protocol.

    Two layouts are recognised. With split folders (chosen when
    ``data_root/train`` exists)::

        data_root/
            train/<class>/<image>     classes = sorted folders of train/
            val/<class>/<image>       optional; without it, 'val' = test/
            test/<class>/<image>

    or flat, split per class by ``split_ratio`` (train, val, test) after a
    shuffle seeded by ``split_seed``, so the split depends only on the file
    names::

        data_root/
            <class>/<image>           classes = sorted folders

    Images are files with one of ``extensions``; hidden entries and the
    ``split_fewshot`` cache folder are skipped. Few-shot draws follow
    :class:`.FewShotDataset` (``val`` gets ``min(num_shots, 4)`` per class,
    except in the split-folder layout without ``val/``, where it is the whole
    test split). Delete ``split_fewshot/`` after changing the images,
    ``split_ratio`` or ``split_seed``: cached subsets are reused as long as
    their images are still in the split.

    Unlike the CoOp datasets, photos are turned upright by their EXIF
    orientation tag when decoded (``RMTLoadImage``), as phones and cameras
    expect.

    Args:
        data_root: The dataset folder.
        classnames: Text names of the classes, as a dict folder -> name or
            the path (relative to ``data_root`` unless absolute) of a json
            dict or of a text file of ``<folder> <name>`` lines. Folders not
            listed keep their folder name.
        templates: Prompt templates, default ``('a photo of a {}.',)``.
        split_ratio: Train, val and test fractions of each class in the flat
            layout.
        split_seed: Seed of the flat layout's split (not of the few-shot
            draw, so that the test split is the same for every ``seed``).
        extensions: File name endings counted as images (case-insensitive).
        **kwargs: ``split``, ``num_shots``, ``seed``, ``subsample``,
            ``cache_dir``, ``pipeline``, ... as in :class:`.FewShotDataset`.

    Examples:
        >>> from mmpretrain.registry import DATASETS
        >>> train = DATASETS.build(dict(
        ...     type='RMTFewShotImageFolder', data_root='data/my_dataset',
        ...     split='train', num_shots=16, seed=1,
        ...     classnames={'n01': 'tabby cat', 'n02': 'golden retriever'}))
    """

    LAYOUT = """
<data_root>/train/<class>/<image>, val/<class>/<image> (optional),
            test/<class>/<image>
or
<data_root>/<class>/<image>   (split by split_ratio)
"""
    HONOURS_EXIF = True

    def __init__(self,
                 data_root: str,
                 classnames: Union[Dict[str, str], str, None] = None,
                 templates: Sequence[str] = prompt_templates.PHOTO,
                 split_ratio: Sequence[float] = (0.5, 0.2, 0.3),
                 split_seed: int = 0,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 **kwargs) -> None:
        if (len(split_ratio) != 3 or min(split_ratio) < 0
                or abs(sum(split_ratio) - 1) > 1e-6):
            raise ValueError('split_ratio must be three non-negative '
                             f'fractions summing to 1, not {split_ratio}.')
        self.classnames = classnames
        self.split_ratio = tuple(split_ratio)
        self.split_seed = split_seed
        self.extensions = tuple(ext.lower() for ext in extensions)
        super().__init__(data_root, templates=templates, **kwargs)

    @property
    def has_split_folders(self) -> bool:
        """Whether the images are already sorted into ``train/`` etc."""
        return osp.isdir(osp.join(self.data_root, 'train'))

    @property
    def fewshot_splits(self) -> Tuple[str, ...]:
        """``('train', 'val')``, or ``('train',)`` when ``val`` is the test
        folder."""
        if self.has_split_folders and not osp.isdir(
                osp.join(self.data_root, 'val')):
            return ('train', )
        return ('train', 'val')

    def read_splits(
            self,
            names: Sequence[str]) -> Tuple[List[str], Dict[str, List[Item]]]:
        """Index the class folders of the requested splits."""
        if self.has_split_folders:
            folders = scan_dir(osp.join(self.data_root, 'train'), dirs=True)
            self._check_not_empty([f'train/{folder}' for folder in folders])
            labels = {folder: label for label, folder in enumerate(folders)}
            splits = {
                name: self._scan_split_folder(self._split_folder(name), labels)
                for name in names
            }
        else:
            folders = [
                folder for folder in scan_dir(self.data_root, dirs=True)
                if folder != CACHE_FOLDER
            ]
            self._check_not_empty(folders)
            splits = self._split_by_ratio(folders)
        return self._class_names(folders), {
            name: splits[name]
            for name in names
        }

    def _split_folder(self, split: str) -> str:
        if split == 'val' and not osp.isdir(osp.join(self.data_root, 'val')):
            return 'test'
        return split

    def _images(self, folder: str) -> List[str]:
        return [
            name for name in scan_dir(osp.join(self.data_root, folder), False)
            if name.lower().endswith(self.extensions)
        ]

    def _check_not_empty(self, class_folders: Sequence[str]) -> None:
        """Every class folder (relative to data_root) needs an image;
        an empty one would silently become a class without examples."""
        for folder in class_folders:
            if not self._images(folder):
                raise ValueError(self.layout_message(
                    f'class folder {folder} has no images (extensions '
                    f'{self.extensions}). Add images or remove the folder.'))

    def _scan_split_folder(self, split_folder: str,
                           labels: Dict[str, int]) -> List[Item]:
        self.require(osp.join(self.data_root, split_folder), 'split folder')
        items = []
        for folder in scan_dir(osp.join(self.data_root, split_folder), True):
            if folder not in labels:
                raise ValueError(
                    self.layout_message(
                        f'class folder {split_folder}/{folder} has no '
                        f'counterpart in train/.'))
            path = f'{split_folder}/{folder}'
            items.extend((f'{path}/{name}', labels[folder])
                         for name in self._images(path))
        return items

    def _split_by_ratio(self, folders: List[str]) -> Dict[str, List[Item]]:
        rng = random.Random(self.split_seed)
        splits: Dict[str, List[Item]] = {name: [] for name in SPLIT_NAMES}
        for label, folder in enumerate(folders):
            paths = [f'{folder}/{name}' for name in self._images(folder)]
            rng.shuffle(paths)
            num_train = round(len(paths) * self.split_ratio[0])
            num_val = round(len(paths) * self.split_ratio[1])
            bounds = (0, num_train, num_train + num_val, len(paths))
            for name, start, stop in zip(SPLIT_NAMES, bounds, bounds[1:]):
                splits[name].extend(
                    (path, label) for path in paths[start:stop])
        return splits

    def _class_names(self, folders: List[str]) -> List[str]:
        names = self._read_classnames()
        unknown = sorted(names.keys() - set(folders))
        if unknown:
            raise ValueError(f'{type(self).__name__}: classnames names '
                             f'folders that do not exist: {unknown[:10]}.')
        return [names.get(folder, folder) for folder in folders]

    def _read_classnames(self) -> Dict[str, str]:
        if not isinstance(self.classnames, str):
            return dict(self.classnames or {})
        path = osp.join(self.data_root, osp.expanduser(self.classnames))
        if not osp.isfile(path):
            raise FileNotFoundError(f'{type(self).__name__}: classnames '
                                    f'file not found: {path}')
        if not path.endswith('.json'):
            return read_classnames_file(path)
        with open(path, encoding='utf-8') as file:
            names = json.load(file)
        if not isinstance(names, dict):
            raise ValueError(f'{type(self).__name__}: {path} must hold a '
                             'json object {"folder": "class name", ...}.')
        return names
