"""Fabricated dataset folders in CoOp's layouts, with tiny real images.

Imported by the test modules of this folder (pytest puts it on sys.path).
"""
import io
import json
import random
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Tuple

from mmpretrain.registry import DATASETS
from PIL import Image

import rmt_mm.datasets  # noqa: F401  (registers the datasets)

CONFIGS_DIR = Path(__file__).parents[2] / 'configs'


def _encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new('RGB', (8, 8), (180, 40, 90)).save(buffer, fmt)
    return buffer.getvalue()


JPEG = _encoded('JPEG')
PNG = _encoded('PNG')

# Images per class: train, val and test counts of up to five classes.
TRAIN_COUNTS = (6, 5, 3, 7, 6)
VAL_COUNTS = (5, 2, 4, 3, 4)
TEST_COUNTS = (3, 2, 3, 2, 3)
COUNTS = dict(train=TRAIN_COUNTS, val=VAL_COUNTS, test=TEST_COUNTS)


class JsonSpec(NamedTuple):
    """A CoOp dataset with a split_zhou json (folder, json, class names)."""
    folder: str
    image_dir: str
    split_file: str
    classes: List[Tuple[str, str]]  # (folder or file stem, CoOp's name)
    path: Callable[[str, str, int], str]  # (class folder, split, i) -> path
    template: str
    decoys: Tuple[str, ...] = ()  # folders on disk that are not classes


def _per_class(folder: str, split: str, i: int) -> str:
    return f'{folder}/{folder}_{split}{i:03d}.jpg'


JSON_SPECS: Dict[str, JsonSpec] = {
    'RMTFewShotCaltech101':
    JsonSpec('caltech-101', '101_ObjectCategories',
             'split_zhou_Caltech101.json',
             [('Faces', 'face'), ('Leopards', 'leopard'),
              ('Motorbikes', 'motorbike'), ('accordion', 'accordion'),
              ('airplanes', 'airplane')], _per_class, 'a photo of a {}.',
             ('BACKGROUND_Google', 'Faces_easy')),
    'RMTFewShotOxfordPets':
    JsonSpec('oxford_pets', 'images', 'split_zhou_OxfordPets.json',
             [('Abyssinian', 'abyssinian'),
              ('american_bulldog', 'american_bulldog'),
              ('Bengal', 'bengal'), ('basset_hound', 'basset_hound')],
             lambda c, s, i: f'{c}_{s}{i}.jpg',
             'a photo of a {}, a type of pet.'),
    'RMTFewShotStanfordCars':
    JsonSpec('stanford_cars', '', 'split_zhou_StanfordCars.json',
             [('c0', '2012 AM General Hummer SUV'),
              ('c1', '2012 Acura RL Sedan'),
              ('c2', '2007 BMW 6 Series Convertible')],
             lambda c, s, i:
             f"cars_{'test' if s == 'test' else 'train'}/{c}{s}{i:02d}.jpg",
             'a photo of a {}.'),
    'RMTFewShotFlowers102':
    JsonSpec('oxford_flowers', 'jpg', 'split_zhou_OxfordFlowers.json',
             [('1', 'pink primrose'), ('2', 'hard-leaved pocket orchid'),
              ('3', 'canterbury bells')],
             lambda c, s, i: f'image_{c}{s}{i:02d}.jpg',
             'a photo of a {}, a type of flower.'),
    'RMTFewShotFood101':
    JsonSpec('food-101', 'images', 'split_zhou_Food101.json',
             [('apple_pie', 'apple_pie'),
              ('baby_back_ribs', 'baby_back_ribs'), ('baklava', 'baklava')],
             _per_class, 'a photo of {}, a type of food.'),
    'RMTFewShotSUN397':
    JsonSpec('sun397', 'SUN397', 'split_zhou_SUN397.json',
             [('a/abbey', 'abbey'), ('a/airport_terminal', 'airport_terminal'),
              ('a/apartment_building/outdoor', 'outdoor apartment_building'),
              ('b/bakery/shop', 'shop bakery')],
             lambda c, s, i: f'{c}/sun_{s}{i:03d}.jpg', 'a photo of a {}.'),
    'RMTFewShotDTD':
    JsonSpec('dtd', 'images', 'split_zhou_DescribableTextures.json',
             [('banded', 'banded'), ('blotchy', 'blotchy'),
              ('braided', 'braided'), ('bubbly', 'bubbly')], _per_class,
             '{} texture.'),
    'RMTFewShotEuroSAT':
    JsonSpec('eurosat', '2750', 'split_zhou_EuroSAT.json',
             [('AnnualCrop', 'Annual Crop Land'), ('Forest', 'Forest'),
              ('HerbaceousVegetation', 'Herbaceous Vegetation Land'),
              ('Highway', 'Highway or Road')], _per_class,
             'a centered satellite photo of {}.'),
    'RMTFewShotUCF101':
    JsonSpec('ucf101', 'UCF-101-midframes', 'split_zhou_UCF101.json',
             [('Apply_Eye_Makeup', 'Apply_Eye_Makeup'),
              ('Apply_Lipstick', 'Apply_Lipstick'), ('Archery', 'Archery')],
             lambda c, s, i: f"{c}/v_{c.replace('_', '')}_g{i:02d}_{s}.jpg",
             'a photo of a person doing {}.'),
}

AIRCRAFT = ['707-320', '727-200', 'A300B4', 'F-16A/B']
# CoOp's classnames.txt is sorted by wnid; this one is not, on purpose.
WNIDS = {
    'n01530575': 'brambling',
    'n01440764': 'tench',
    'n01443537': 'goldfish',
    'n01514859': 'hen',
    'n01484850': 'great white shark',
}
SORTED_WNIDS = sorted(WNIDS)
SUBSET_WNIDS = ['n01514859', 'n01443537']  # the classes of fake -A and -R


def write_images(root: Path, rel_paths, data: bytes = JPEG) -> None:
    """Write the same tiny image under every relative path."""
    for rel_path in rel_paths:
        path = root / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def make_json_dataset(data_dir: Path, name: str) -> Path:
    """A CoOp json dataset; its train list interleaves the labels."""
    spec = JSON_SPECS[name]
    root = data_dir / spec.folder
    split = {}
    for split_name, counts in COUNTS.items():
        entries = [[spec.path(folder, split_name, i), label, cname]
                   for label, (folder, cname) in enumerate(spec.classes)
                   for i in range(counts[label])]
        random.Random(split_name).shuffle(entries)
        split[split_name] = entries
        write_images(root / spec.image_dir, [e[0] for e in entries])
    write_images(root / spec.image_dir,
                 [f'{decoy}/image_0001.jpg' for decoy in spec.decoys])
    (root / spec.split_file).write_text(json.dumps(split))
    return root


def make_aircraft(data_dir: Path) -> Path:
    """FGVC-Aircraft's lists: variants.txt and images_variant_*.txt."""
    root = data_dir / 'fgvc_aircraft'
    root.mkdir(parents=True)
    (root / 'variants.txt').write_text('\n'.join(AIRCRAFT) + '\n')
    image_id = 1000000
    for split_name, counts in COUNTS.items():
        lines = []
        for label, variant in enumerate(AIRCRAFT):
            for _ in range(counts[label]):
                image_id += 1
                lines.append(f'{image_id} {variant}')
        random.Random(split_name).shuffle(lines)
        (root / f'images_variant_{split_name}.txt').write_text(
            '\n'.join(lines) + '\n')
        write_images(root / 'images',
                     [f"{line.split(' ')[0]}.jpg" for line in lines])
    return root


def write_classnames(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / 'classnames.txt').write_text(''.join(
        f'{wnid} {name}\n' for wnid, name in WNIDS.items()))


def make_imagenet(data_dir: Path) -> Path:
    """images/{train,val}/<wnid>/ with train counts 6,5,3,7,6 and val 5,2,..
    """
    root = data_dir / 'imagenet'
    write_classnames(root)
    for split_name, subdir in (('train', 'train'), ('val', 'val')):
        write_images(root / 'images' / subdir, [
            f'{wnid}/{wnid}_{i:04d}.JPEG'
            for label, wnid in enumerate(SORTED_WNIDS)
            for i in range(COUNTS[split_name][label])
        ])
    return root


def make_imagenet_variant(data_dir: Path, name: str) -> Path:
    """The test-only ImageNet variants, 2 images per class folder."""
    folder, image_dir, wnids = {
        'RMTFewShotImageNetV2': ('imagenetv2',
                                 'imagenetv2-matched-frequency-format-val',
                                 [str(i) for i in range(len(WNIDS))]),
        'RMTFewShotImageNetSketch': ('imagenet-sketch', 'images',
                                     SORTED_WNIDS),
        'RMTFewShotImageNetA': ('imagenet-adversarial', 'imagenet-a',
                                SUBSET_WNIDS),
        'RMTFewShotImageNetR': ('imagenet-rendition', 'imagenet-r',
                                SUBSET_WNIDS),
    }[name]
    root = data_dir / folder
    write_classnames(root)
    write_images(root / image_dir,
                 [f'{wnid}/img_{i}.jpg' for wnid in wnids for i in range(2)])
    (root / image_dir / 'README.txt').write_text('not a class\n')
    return root


def make_tree(data_dir: Path, name: str) -> Path:
    """Fabricate the folder of dataset type ``name``; return its root."""
    if name in JSON_SPECS:
        return make_json_dataset(data_dir, name)
    if name == 'RMTFewShotFGVCAircraft':
        return make_aircraft(data_dir)
    if name == 'RMTFewShotImageNet':
        return make_imagenet(data_dir)
    return make_imagenet_variant(data_dir, name)


def build(name: str, root: Path, **kwargs):
    """Build dataset type ``name`` on ``root`` through the registry."""
    # serialize_data=False skips mmengine's gc.collect(), 0.3 s per dataset.
    return DATASETS.build(
        dict(type=name, data_root=str(root), serialize_data=False, **kwargs))


def relative_items(dataset, image_root: Path) -> List[Tuple[str, int]]:
    """The dataset's (path relative to image_root, label) pairs, in order."""
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    return [(Path(info['img_path']).relative_to(image_root).as_posix(),
             info['gt_label']) for info in infos]
