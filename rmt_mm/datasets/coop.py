"""The ten CoOp benchmark datasets that come with a fixed split (ImageNet is
in :mod:`.imagenet_variants`).

Each reads the split CoOp published (``split_zhou_*.json``, or the official
lists for FGVC-Aircraft), takes the class names from it exactly as CoOp does
and carries CoOp's prompt template. See :class:`.FewShotDataset` for the
arguments and ``docs/data_preparation.md`` for downloading.

Examples:
    >>> from mmpretrain.registry import DATASETS
    >>> train = DATASETS.build(dict(type='RMTFewShotDTD', data_root='data/dtd',
    ...                             split='train', num_shots=16, seed=1))
    >>> train.metainfo['templates']
    ('{} texture.',)
"""
import os.path as osp
from typing import Dict, List, Sequence, Tuple

from mmpretrain.registry import DATASETS

from ..registry import register
from . import templates
from .fewshot import FewShotDataset, Item


@register(DATASETS, 'RMTFewShotCaltech101', old_name='FewShotCaltech101')
class FewShotCaltech101(FewShotDataset):
    """Caltech-101 with CoOp's split: 100 classes (the two background/face
    duplicates are left out), e.g. ``face``, ``leopard``, ``airplane``."""

    IMAGE_DIR = '101_ObjectCategories'
    SPLIT_FILE = 'split_zhou_Caltech101.json'
    TEMPLATES = templates.PHOTO
    LAYOUT = """
caltech-101/
    101_ObjectCategories/<category>/image_0001.jpg
    split_zhou_Caltech101.json
"""


@register(DATASETS, 'RMTFewShotOxfordPets', old_name='FewShotOxfordPets')
class FewShotOxfordPets(FewShotDataset):
    """Oxford-IIIT Pets with CoOp's split: 37 breeds, lower case."""

    IMAGE_DIR = 'images'
    SPLIT_FILE = 'split_zhou_OxfordPets.json'
    TEMPLATES = templates.OXFORD_PETS
    LAYOUT = """
oxford_pets/
    images/Abyssinian_1.jpg ...
    split_zhou_OxfordPets.json
"""


@register(DATASETS, 'RMTFewShotStanfordCars', old_name='FewShotStanfordCars')
class FewShotStanfordCars(FewShotDataset):
    """Stanford Cars with CoOp's split: 196 models, year first (e.g.
    ``2012 Tesla Model S Sedan``). Paths are relative to ``data_root``."""

    SPLIT_FILE = 'split_zhou_StanfordCars.json'
    TEMPLATES = templates.PHOTO
    LAYOUT = """
stanford_cars/
    cars_train/00001.jpg ...
    cars_test/00001.jpg ...
    split_zhou_StanfordCars.json
"""


@register(DATASETS, 'RMTFewShotFlowers102', old_name='FewShotFlowers102')
class FewShotFlowers102(FewShotDataset):
    """Oxford Flowers-102 with CoOp's split: 102 species named after
    ``cat_to_name.json``."""

    IMAGE_DIR = 'jpg'
    SPLIT_FILE = 'split_zhou_OxfordFlowers.json'
    TEMPLATES = templates.OXFORD_FLOWERS
    LAYOUT = """
oxford_flowers/
    jpg/image_00001.jpg ...
    split_zhou_OxfordFlowers.json
"""


@register(DATASETS, 'RMTFewShotFood101', old_name='FewShotFood101')
class FewShotFood101(FewShotDataset):
    """Food-101 with CoOp's split: 101 dishes (folder names)."""

    IMAGE_DIR = 'images'
    SPLIT_FILE = 'split_zhou_Food101.json'
    TEMPLATES = templates.FOOD101
    LAYOUT = """
food-101/
    images/<dish>/<id>.jpg
    split_zhou_Food101.json
"""


@register(DATASETS, 'RMTFewShotSUN397', old_name='FewShotSUN397')
class FewShotSUN397(FewShotDataset):
    """SUN397 with CoOp's split: 397 scenes, sub-category first (e.g.
    ``shop bakery`` for ``b/bakery/shop``)."""

    IMAGE_DIR = 'SUN397'
    SPLIT_FILE = 'split_zhou_SUN397.json'
    TEMPLATES = templates.PHOTO
    LAYOUT = """
sun397/
    SUN397/<letter>/<scene>[/<sub-scene>]/sun_<id>.jpg
    split_zhou_SUN397.json
"""


@register(DATASETS, 'RMTFewShotDTD', old_name='FewShotDTD')
class FewShotDTD(FewShotDataset):
    """Describable Textures with CoOp's split: 47 textures (folder names)."""

    IMAGE_DIR = 'images'
    SPLIT_FILE = 'split_zhou_DescribableTextures.json'
    TEMPLATES = templates.DTD
    LAYOUT = """
dtd/
    images/<texture>/<texture>_0001.jpg
    split_zhou_DescribableTextures.json
"""


@register(DATASETS, 'RMTFewShotEuroSAT', old_name='FewShotEuroSAT')
class FewShotEuroSAT(FewShotDataset):
    """EuroSAT (RGB) with CoOp's split: 10 land-cover classes with CoOp's
    longer names (e.g. ``Annual Crop Land``)."""

    IMAGE_DIR = '2750'
    SPLIT_FILE = 'split_zhou_EuroSAT.json'
    TEMPLATES = templates.EUROSAT
    LAYOUT = """
eurosat/
    2750/<class>/<class>_1.jpg
    split_zhou_EuroSAT.json
"""


@register(DATASETS, 'RMTFewShotUCF101', old_name='FewShotUCF101')
class FewShotUCF101(FewShotDataset):
    """UCF101 middle frames with CoOp's split: 101 actions, words joined by
    underscores (e.g. ``Apply_Eye_Makeup``)."""

    IMAGE_DIR = 'UCF-101-midframes'
    SPLIT_FILE = 'split_zhou_UCF101.json'
    TEMPLATES = templates.UCF101
    LAYOUT = """
ucf101/
    UCF-101-midframes/<Action_Name>/v_<Action>_g01_c01.jpg
    split_zhou_UCF101.json
"""


@register(DATASETS, 'RMTFewShotFGVCAircraft', old_name='FewShotFGVCAircraft')
class FewShotFGVCAircraft(FewShotDataset):
    """FGVC-Aircraft with its official train/val/test lists: 100 variants in
    ``variants.txt`` order. There is no CoOp json for it."""

    IMAGE_DIR = 'images'
    TEMPLATES = templates.FGVC_AIRCRAFT
    LAYOUT = """
fgvc_aircraft/          (the "data" folder of fgvc-aircraft-2013b.tar.gz)
    images/<image id>.jpg
    variants.txt
    images_variant_train.txt   ("<image id> <variant>" per line)
    images_variant_val.txt
    images_variant_test.txt
"""

    def read_splits(
            self,
            names: Sequence[str]) -> Tuple[List[str], Dict[str, List[Item]]]:
        """Read ``variants.txt`` and the requested ``images_variant_*.txt``."""
        classes = [line.strip() for line in self._lines('variants.txt')]
        labels = {variant: label for label, variant in enumerate(classes)}
        splits = {}
        for name in names:
            list_file = f'images_variant_{name}.txt'
            items = []
            for line in self._lines(list_file):
                image_id, _, variant = line.strip().partition(' ')
                if variant not in labels:
                    raise ValueError(f'{list_file}: variant {variant!r} of '
                                     f'image {image_id} is not in '
                                     f'variants.txt.')
                items.append((f'{image_id}.jpg', labels[variant]))
            splits[name] = items
        return classes, splits

    def _lines(self, file_name: str) -> List[str]:
        path = osp.join(self.data_root, file_name)
        self.require(path, 'list file')
        with open(path, encoding='utf-8') as file:
            return [line for line in file if line.strip()]
