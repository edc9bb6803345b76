"""CoOp's few-shot protocol on top of mmpretrain's ``BaseDataset``.

CoOp (Zhou et al., "Learning to Prompt for Vision-Language Models") fixes a
train/val/test split per dataset, then draws ``K`` training images per class
and ``min(K, 4)`` validation images per class with Python's ``random`` seeded
by the run seed, and optionally keeps only the first ("base") or second
("new") half of the classes. :class:`FewShotDataset` reproduces exactly those
subsets and leaves reading a concrete dataset to :meth:`read_splits`.
"""
import json
import math
import os
import os.path as osp
import random
import warnings
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from mmpretrain.datasets import BaseDataset

from ..fileio.side_files import read_json
from . import templates as prompt_templates
from .seeded_augmentation import sample_seed, seeded_global_random
from .transforms import EXIF_KEY

Item = Tuple[str, int]
"""An image path relative to the dataset's image folder and its label."""

CACHE_FOLDER = 'split_fewshot'
SUBSAMPLES = ('all', 'base', 'new')
MAX_VAL_SHOTS = 4


def scan_dir(path: str, dirs: bool) -> List[str]:
    """List a folder's non-hidden entries, sorted by name.

    ``os.scandir`` takes the entry type from the directory listing, so no
    per-entry ``stat`` call is made on common file systems.

    Args:
        path: The folder to list.
        dirs: ``True`` for its sub-folders, ``False`` for everything else.

    Returns:
        The entry names, sorted.
    """
    with os.scandir(path) as entries:
        return sorted(entry.name for entry in entries
                      if not entry.name.startswith('.')
                      and entry.is_dir() == dirs)


def sample_per_label(items: Sequence[Item], num_shots: int,
                     rng: random.Random) -> List[Item]:
    """Draw ``num_shots`` items per label the way CoOp (Dassl) does.

    Labels are visited in order of first appearance; a label with at least
    ``num_shots`` items contributes ``rng.sample(items, num_shots)``, a
    smaller one contributes all its items.

    Args:
        items: The split to sample from, in split-file order.
        num_shots: Items to keep per label.
        rng: The random stream; it advances by one ``sample`` per label.

    Returns:
        The chosen items, grouped by label.
    """
    groups: Dict[int, List[Item]] = {}
    for item in items:
        groups.setdefault(item[1], []).append(item)
    chosen: List[Item] = []
    for group in groups.values():
        chosen.extend(
            rng.sample(group, num_shots) if len(group) >= num_shots else group)
    return chosen


def read_classnames_file(path: str) -> Dict[str, str]:
    """Read ``<folder> <class name>`` lines, the format of CoOp's
    ``classnames.txt`` for ImageNet.

    Args:
        path: The text file.

    Returns:
        Class names keyed by folder name, in file order.
    """
    names = {}
    with open(path, encoding='utf-8') as file:
        for line in file:
            folder, _, name = line.strip().partition(' ')
            if folder:
                names[folder] = name
    return names


def read_coop_split_file(path: str) -> Tuple[List[str], Dict[str, List[Item]]]:
    """Read one of CoOp's ``split_zhou_*.json`` files.

    The file maps ``train``, ``val`` and ``test`` to lists of
    ``[relative image path, label, class name]``.

    Args:
        path: The json file.

    Returns:
        The class names in label order (taken verbatim from the file, as
        CoOp does) and the items of the three splits.

    Raises:
        ValueError: If the file is not JSON (a ``FileRefusedError``) or
            does not have that structure, a label has two names or the
            labels are not ``0..n-1``.
    """
    raw = read_json(path, "Download CoOp's split file again (see "
                    'docs/data_preparation.md).')
    names: Dict[int, str] = {}
    splits: Dict[str, List[Item]] = {}
    try:
        for split in ('train', 'val', 'test'):
            items = []
            for rel_path, label, name in raw[split]:
                label = int(label)
                if names.setdefault(label, name) != name:
                    raise ValueError(f'{path}: label {label} is named both '
                                     f'{names[label]!r} and {name!r}.')
                items.append((rel_path, label))
            splits[split] = items
    except (KeyError, TypeError) as err:
        raise ValueError(
            f'{path} is not a CoOp split file: expected {{"train": [[path, '
            f'label, class name], ...], "val": [...], "test": [...]}}.'
        ) from err
    missing = sorted(set(range(len(names))) - names.keys())
    if missing:
        raise ValueError(f'{path}: labels must be 0..n-1; the labels '
                         f'{missing[:10]} have no item.')
    return [names[label] for label in range(len(names))], splits


class FewShotDataset(BaseDataset):
    """Base of the few-shot datasets: CoOp's splits, shots and class halves.

    A subclass says where its images are (``IMAGE_DIR``), how its splits are
    read (``SPLIT_FILE`` for a CoOp split json, otherwise an override of
    :meth:`read_splits`), which prompt templates it uses (``TEMPLATES``) and
    what its folder should look like (``LAYOUT``, shown in errors).

    Few-shot subsets (``num_shots >= 1``, splits in :attr:`fewshot_splits`)
    are drawn as CoOp draws them: one ``random.Random(seed)``, the training
    split first with ``num_shots`` per class, then the validation split with
    ``min(num_shots, 4)`` per class, whichever split was requested. The
    choice is written to ``<cache_dir>/shot_{K}-seed_{S}.json`` (``cache_dir``
    defaults to ``<data_root>/split_fewshot``) as lists of relative paths and
    read back on later runs; when the folder cannot be written a warning says
    so and the subset is drawn again each time (same seed, same subset). The
    test split is always complete. ``subsample`` then keeps the first
    ``ceil(n / 2)`` classes (``'base'``) or the others (``'new'``, relabelled
    from 0) on every split.

    ``metainfo['classes']`` holds the class names exactly as CoOp names them
    (underscores kept) and ``metainfo['templates']`` the prompt templates.
    ``classes`` is known once the data list is loaded (not before ``full_init``
    when ``lazy_init=True``).

    Images are decoded by ``RMTLoadImage`` as CoOp decodes them: EXIF
    orientation is ignored (``HONOURS_EXIF``; ``FewShotImageFolder`` turns
    photos upright instead).

    Augmentation randomness: once :meth:`set_augmentation_epoch` was called
    (``RMTEpochSeedHook`` does it before every training epoch), the pipeline
    of item ``i`` draws from Python's and numpy's generators seeded by
    ``(seed, epoch, i)``. Every epoch sees new crops and flips, and the
    draws do not depend on the number of processes or loader workers, nor
    on whether the run was resumed.

    A missing image raises :class:`FileNotFoundError` when the item is loaded,
    in training and in test mode alike (mmengine only resamples items whose
    pipeline returns ``None``); an undecodable one raises
    ``failed to load image: <path>``.

    Args:
        data_root: The dataset folder (e.g. ``data/caltech-101``).
        split: ``'train'``, ``'val'`` or ``'test'``.
        num_shots: Images per class for the training split (the validation
            split gets ``min(num_shots, 4)``); ``-1`` keeps every image.
        seed: Seed of the few-shot draw.
        subsample: ``'all'``, ``'base'`` or ``'new'`` classes.
        cache_dir: Folder of the few-shot cache files, one per dataset; use
            it when ``data_root`` is read-only.
        templates: Prompt templates overriding the dataset's own.
        metainfo: Extra meta information, merged under ``templates`` and
            ``classes``.
        **kwargs: Passed to :class:`mmpretrain.datasets.BaseDataset`
            (``pipeline``, ``test_mode``, ``lazy_init``, ...).
    """

    SPLITS: Tuple[str, ...] = ('train', 'val', 'test')
    FEWSHOT_SPLITS: Tuple[str, ...] = ('train', 'val')
    IMAGE_DIR: str = ''
    SPLIT_FILE: Optional[str] = None
    TEMPLATES: Tuple[str, ...] = prompt_templates.PHOTO
    LAYOUT: str = ''
    HONOURS_EXIF: bool = False

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 num_shots: int = -1,
                 seed: int = 1,
                 subsample: str = 'all',
                 cache_dir: Optional[str] = None,
                 templates: Optional[Sequence[str]] = None,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        name = type(self).__name__
        if split not in self.SPLITS:
            raise ValueError(f'{name}: split must be one of {self.SPLITS}, '
                             f'not {split!r}.')
        if num_shots != -1 and num_shots < 1:
            raise ValueError(f'{name}: num_shots must be -1 (all images) or '
                             f'positive, not {num_shots}.')
        if subsample not in SUBSAMPLES:
            raise ValueError(f'{name}: subsample must be one of {SUBSAMPLES}'
                             f', not {subsample!r}.')
        templates = tuple(self.TEMPLATES if templates is None else templates)
        if not templates or any('{}' not in t for t in templates):
            raise ValueError(f'{name}: templates must be format strings with '
                             f'a "{{}}", got {templates!r}.')
        self.split = split
        self.num_shots = num_shots
        self.seed = seed
        self.subsample = subsample
        self.cache_dir = cache_dir
        self.augmentation_key: Optional[Tuple[int, int]] = None
        super().__init__(
            ann_file='',
            metainfo={**(metainfo or {}), 'templates': templates},
            data_root=osp.abspath(osp.expanduser(data_root)),
            data_prefix=self.IMAGE_DIR,
            **kwargs)

    @property
    def fewshot_splits(self) -> Tuple[str, ...]:
        """The splits CoOp subsamples, in the order it draws them."""
        return self.FEWSHOT_SPLITS

    @property
    def fewshot_cache_file(self) -> str:
        """Where the few-shot choice for ``(num_shots, seed)`` is kept."""
        folder = self.cache_dir or osp.join(self.data_root, CACHE_FOLDER)
        return osp.join(folder, f'shot_{self.num_shots}-seed_{self.seed}.json')

    def read_splits(
            self,
            names: Sequence[str]) -> Tuple[List[str], Dict[str, List[Item]]]:
        """Read the class names and the complete items of some splits.

        This default reads ``SPLIT_FILE``, one of CoOp's split json files.

        Args:
            names: Splits to return, a subset of :attr:`SPLITS`.

        Returns:
            The class names in label order and, per requested split, its
            items (paths relative to :attr:`img_prefix`).
        """
        path = osp.join(self.data_root, self.SPLIT_FILE)
        self.require(path, 'split file')
        classes, splits = read_coop_split_file(path)
        return classes, {name: splits[name] for name in names}

    def require(self, path: str, what: str) -> None:
        """Raise a :class:`FileNotFoundError` showing the expected layout
        unless ``path`` exists."""
        if not osp.exists(path):
            raise FileNotFoundError(self.layout_message(f'{what} not found: '
                                                        f'{path}'))

    def layout_message(self, problem: str) -> str:
        """``problem`` followed by the folder tree the dataset expects."""
        return (f'{type(self).__name__}: {problem}\nExpected layout under '
                f'data_root ({self.data_root}):\n{self.LAYOUT.strip()}')

    def load_data_list(self) -> List[dict]:
        """Read the requested split, apply few-shot and class subsampling."""
        self.require(self.data_root, 'data_root')
        self.require(self.img_prefix, 'image folder')
        if self.num_shots > 0 and self.split in self.fewshot_splits:
            classes, items = self._load_fewshot_items()
        else:
            classes, splits = self.read_splits((self.split, ))
            items = splits[self.split]
        classes, items = self._subsample_classes(classes, items)
        self._metainfo['classes'] = tuple(classes)
        root = osp.join(self.img_prefix, '')
        return [dict(img_path=root + path, gt_label=label,
                     **{EXIF_KEY: self.HONOURS_EXIF})
                for path, label in items]

    def set_augmentation_epoch(self, seed: int, epoch: int) -> None:
        """Draws the augmentations of ``epoch`` from ``(seed, epoch, item
        index)`` from now on."""
        self.augmentation_key = (int(seed), int(epoch))

    def prepare_data(self, idx: int) -> Optional[dict]:
        """Run the pipeline on item ``idx``; a missing image is reported with
        the expected layout."""
        try:
            if self.augmentation_key is None:
                return super().prepare_data(idx)
            with seeded_global_random(
                    sample_seed(*self.augmentation_key, idx)):
                return super().prepare_data(idx)
        except FileNotFoundError as err:
            path = self.get_data_info(idx)['img_path']
            raise FileNotFoundError(
                self.layout_message(f'image #{idx} cannot be read: {path} '
                                    f'({err})')) from err

    def extra_repr(self) -> List[str]:
        """Describe the split, shots, seed and class subset in ``repr``."""
        return [
            f'Data root: \t{self.data_root}',
            f'Split: \t{self.split}',
            f'Shots per class: \t{self.num_shots}',
            f'Seed: \t{self.seed}',
            f'Classes subset: \t{self.subsample}',
            f'Templates: \t{self._metainfo["templates"]}',
        ]

    def _shots(self, split: str) -> int:
        return self.num_shots if split == 'train' else min(
            self.num_shots, MAX_VAL_SHOTS)

    def _load_fewshot_items(self) -> Tuple[List[str], List[Item]]:
        cache_file = self.fewshot_cache_file
        if osp.isfile(cache_file):
            classes, splits = self.read_splits((self.split, ))
            items = self._read_cache(cache_file, splits[self.split])
        else:
            classes, splits = self.read_splits(self.fewshot_splits)
            # One stream for all splits, in CoOp's order: the validation
            # subset depends on the training draw made before it.
            rng = random.Random(self.seed)
            chosen = {
                split: sample_per_label(splits[split], self._shots(split), rng)
                for split in self.fewshot_splits
            }
            self._write_cache(cache_file, chosen)
            items = chosen[self.split]
        self._warn_small_classes(classes, items)
        return classes, items

    def _read_cache(self, cache_file: str,
                    split_items: List[Item]) -> List[Item]:
        paths = read_json(
            cache_file, 'Delete it to draw the subset again (the same seed '
            'draws the same images).')
        paths = paths.get(self.split) if isinstance(paths, dict) else None
        labels = dict(split_items)
        if paths is None:
            problem = f'has no {self.split!r} list'
        else:
            unknown = [path for path in paths if path not in labels]
            if not unknown:
                return [(path, labels[path]) for path in paths]
            problem = (f'lists {len(unknown)} image(s) outside the '
                       f'{self.split!r} split, e.g. {unknown[0]}')
        raise ValueError(
            f'{type(self).__name__}: the few-shot cache {cache_file} '
            f'{problem}; it was written for other data. Delete it to draw the '
            f'subset again.')

    def _write_cache(self, cache_file: str,
                     chosen: Dict[str, List[Item]]) -> None:
        paths = {split: [path for path, _ in items]
                 for split, items in chosen.items()}
        # Ranks of a distributed job may write at once: write a private file
        # and rename it, the contents are identical anyway.
        temporary = f'{cache_file}.{os.getpid()}.tmp'
        try:
            os.makedirs(osp.dirname(cache_file), exist_ok=True)
            with open(temporary, 'w', encoding='utf-8') as file:
                json.dump(paths, file, indent=1)
            os.replace(temporary, cache_file)
        except OSError as err:
            warnings.warn(
                f'{type(self).__name__}: cannot write the few-shot cache '
                f'{cache_file} ({err}); the subset is drawn again on every '
                f'run (same seed, same subset). Pass cache_dir=... to keep '
                f'it.')

    def _warn_small_classes(self, classes: List[str],
                            items: List[Item]) -> None:
        shots = self._shots(self.split)
        counts = Counter(label for _, label in items)
        small = [name for label, name in enumerate(classes)
                 if counts[label] < shots]
        if small:
            shown = ', '.join(small[:10]) + (', ...'
                                             if len(small) > 10 else '')
            warnings.warn(
                f'{type(self).__name__}: {len(small)} class(es) have fewer '
                f'than {shots} {self.split} images and keep all they have: '
                f'{shown}.')

    def _subsample_classes(
            self, classes: List[str],
            items: List[Item]) -> Tuple[List[str], List[Item]]:
        if self.subsample == 'all':
            return classes, items
        half = math.ceil(len(classes) / 2)
        kept = range(half) if self.subsample == 'base' else range(
            half, len(classes))
        return (classes[kept.start:kept.stop],
                [(path, label - kept.start) for path, label in items
                 if label in kept])
