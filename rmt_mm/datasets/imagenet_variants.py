"""ImageNet and the four test-only variants of CoOp's domain-generalisation
benchmark (ImageNet-V2, -Sketch, -A, -R).

All of them name classes through CoOp's ``classnames.txt`` (``<wnid> <name>``
per line, sorted by wnid), copied into each dataset folder. Labels follow
that sorted wnid order, which is CoOp's order (it enumerates the sorted class
folders). -A and -R hold 200-class subsets: their labels are ``0..199`` over
the folders present, as in CoOp. Images inside a class folder are listed in
sorted order, whereas CoOp keeps ``os.listdir``'s order; sorting makes the
ImageNet few-shot draw the same on every file system, at the price of not
matching a CoOp subset drawn on a file system with another order.
"""
import os.path as osp
from typing import Dict, List, Sequence, Tuple

from mmpretrain.registry import DATASETS

from ..registry import register
from . import templates
from .fewshot import FewShotDataset, Item, read_classnames_file, scan_dir


class _ImageNetFamily(FewShotDataset):
    """Shared reading of ``classnames.txt`` and ``<class folder>/<image>``
    trees."""

    TEMPLATES = templates.PHOTO

    def read_wnid_names(self) -> Dict[str, str]:
        """Class names keyed by wnid, sorted by wnid."""
        path = osp.join(self.data_root, 'classnames.txt')
        self.require(path, 'classnames.txt')
        return dict(sorted(read_classnames_file(path).items()))

    def scan_class_folders(self, subdir: str,
                           folder_labels: Dict[str, int]) -> List[Item]:
        """Index every image under ``<img_prefix>/<subdir>/<folder>/``.

        Args:
            subdir: Folder below the image folder, ``''`` for none.
            folder_labels: The label of each class folder; any other folder
                is an error.

        Returns:
            The items, class by class in label order.
        """
        root = osp.join(self.img_prefix, subdir)
        self.require(root, 'image folder')
        folders = scan_dir(root, dirs=True)
        unknown = [folder for folder in folders if folder not in folder_labels]
        if unknown:
            raise ValueError(
                self.layout_message(
                    f'{len(unknown)} class folder(s) of {root} are not listed '
                    f'in classnames.txt, e.g. {unknown[0]!r}.'))
        prefix = osp.join(subdir, '')
        items = []
        for folder in sorted(folders, key=folder_labels.__getitem__):
            label = folder_labels[folder]
            items.extend((f'{prefix}{folder}/{name}', label)
                         for name in scan_dir(osp.join(root, folder), False))
        return items


@register(DATASETS, 'RMTFewShotImageNet', old_name='FewShotImageNet')
class FewShotImageNet(_ImageNetFamily):
    """ImageNet-1k as CoOp uses it: few-shot training images from ``train``;
    ``val`` and ``test`` are both the official validation set (complete).
    Only the training split is subsampled. There is no split json."""

    IMAGE_DIR = 'images'
    FEWSHOT_SPLITS = ('train', )
    LAYOUT = """
imagenet/
    classnames.txt              (from CoOp: "<wnid> <class name>" per line)
    images/train/<wnid>/<image>.JPEG
    images/val/<wnid>/<image>.JPEG    (validation images sorted into folders)
"""

    def read_splits(
            self,
            names: Sequence[str]) -> Tuple[List[str], Dict[str, List[Item]]]:
        """Index ``images/train`` for ``train``, ``images/val`` otherwise."""
        wnid_names = self.read_wnid_names()
        labels = {wnid: label for label, wnid in enumerate(wnid_names)}
        splits = {
            name: self.scan_class_folders('train' if name == 'train' else
                                          'val', labels)
            for name in names
        }
        return list(wnid_names.values()), splits


class _TestOnly(_ImageNetFamily):
    """A test set of ImageNet classes: ``val`` and ``test`` both give every
    image and there is no ``train`` split."""

    SPLITS = ('val', 'test')
    FEWSHOT_SPLITS = ()

    def read_classes(self) -> Tuple[List[str], Dict[str, int]]:
        """The class names and the label of each class folder."""
        raise NotImplementedError

    def read_splits(
            self,
            names: Sequence[str]) -> Tuple[List[str], Dict[str, List[Item]]]:
        """Index the image folder once; every requested split gets it."""
        classes, folder_labels = self.read_classes()
        items = self.scan_class_folders('', folder_labels)
        return classes, {name: items for name in names}


@register(DATASETS, 'RMTFewShotImageNetV2', old_name='FewShotImageNetV2')
class FewShotImageNetV2(_TestOnly):
    """ImageNet-V2 (matched frequency), test only: 1000 classes, one folder
    per label index."""

    IMAGE_DIR = 'imagenetv2-matched-frequency-format-val'
    LAYOUT = """
imagenetv2/
    classnames.txt              (copied from imagenet/)
    imagenetv2-matched-frequency-format-val/<label 0..999>/<image>.jpeg
"""

    def read_classes(self) -> Tuple[List[str], Dict[str, int]]:
        """All ImageNet classes; folder ``str(i)`` holds label ``i``."""
        classes = list(self.read_wnid_names().values())
        return classes, {str(label): label for label in range(len(classes))}


class _WnidFolderSubset(_TestOnly):
    """A test set whose class folders are wnids, possibly a subset of
    ImageNet's classes: labels enumerate the sorted folders present."""

    def read_classes(self) -> Tuple[List[str], Dict[str, int]]:
        """The classes of the wnid folders present, in sorted order."""
        wnid_names = self.read_wnid_names()
        self.require(self.img_prefix, 'image folder')
        folders = scan_dir(self.img_prefix, dirs=True)
        unknown = [folder for folder in folders if folder not in wnid_names]
        if unknown:
            raise ValueError(
                self.layout_message(
                    f'{len(unknown)} folder(s) of {self.img_prefix} are not '
                    f'wnids of classnames.txt, e.g. {unknown[0]!r}.'))
        return ([wnid_names[folder] for folder in folders],
                {folder: label for label, folder in enumerate(folders)})


@register(DATASETS, 'RMTFewShotImageNetSketch',
          old_name='FewShotImageNetSketch')
class FewShotImageNetSketch(_WnidFolderSubset):
    """ImageNet-Sketch, test only: 1000 classes."""

    IMAGE_DIR = 'images'
    LAYOUT = """
imagenet-sketch/
    classnames.txt              (copied from imagenet/)
    images/<wnid>/<image>.JPEG
"""


@register(DATASETS, 'RMTFewShotImageNetA', old_name='FewShotImageNetA')
class FewShotImageNetA(_WnidFolderSubset):
    """ImageNet-A (natural adversarial examples), test only: 200 classes."""

    IMAGE_DIR = 'imagenet-a'
    LAYOUT = """
imagenet-adversarial/
    classnames.txt              (copied from imagenet/)
    imagenet-a/<wnid>/<image>.jpg    (200 wnid folders, README.txt ignored)
"""


@register(DATASETS, 'RMTFewShotImageNetR', old_name='FewShotImageNetR')
class FewShotImageNetR(_WnidFolderSubset):
    """ImageNet-R (renditions), test only: 200 classes."""

    IMAGE_DIR = 'imagenet-r'
    LAYOUT = """
imagenet-rendition/
    classnames.txt              (copied from imagenet/)
    imagenet-r/<wnid>/<image>.jpg    (200 wnid folders, README.txt ignored)
"""
