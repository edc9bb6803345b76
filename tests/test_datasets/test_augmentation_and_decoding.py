"""Each epoch's augmentations come from (seed, epoch, sample index); CoOp's
datasets decode as the reference does (EXIF orientation ignored), people's
own photos are turned upright."""
import random
import warnings

import numpy as np
import pytest
from fewshot_fakes import CONFIGS_DIR, make_tree
from mmengine.config import Config
from mmpretrain.registry import DATASETS, TRANSFORMS
from PIL import Image

TRAIN_PIPELINE = Config.fromfile(
    CONFIGS_DIR / '_base_' / 'datasets' / 'fewshot.py').train_pipeline
# Every comparison below is exact: images are uint8 arrays decoded by PIL
# and cropped by the same code on both sides in this process, and random
# numbers come from seeded streams.
EXIF_ORIENTATION = 0x0112
ROTATE_90_CW = 6  # the camera was turned: display rotated by 90 degrees


def noise_image(path, size=(64, 48), exif=None):
    pixels = np.random.default_rng(3).integers(0, 255, (*size[::-1], 3))
    image = Image.fromarray(pixels.astype(np.uint8))
    kwargs = {}
    if exif is not None:
        tags = Image.Exif()
        tags[EXIF_ORIENTATION] = exif
        kwargs['exif'] = tags.tobytes()
    image.save(path, **kwargs)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / 'photos'
    for name in ('ant', 'bee'):
        (root / 'train' / name).mkdir(parents=True)
        (root / 'test' / name).mkdir(parents=True)
        for i in range(3):
            noise_image(root / 'train' / name / f'{i}.png')
            noise_image(root / 'test' / name / f'{i}.png')
    return root


def train_set(root):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return DATASETS.build(
            dict(type='RMTFewShotImageFolder', data_root=str(root),
                 split='train', num_shots=2, seed=1,
                 pipeline=TRAIN_PIPELINE, serialize_data=False))


def crop(dataset, seed, epoch, index=0):
    dataset.set_augmentation_epoch(seed, epoch)
    return dataset[index]['inputs']


def test_crops_change_every_epoch_and_repeat_across_runs(folder):
    first, second = train_set(folder), train_set(folder)
    epoch0 = crop(first, seed=1, epoch=0)
    assert not np.array_equal(epoch0, crop(first, seed=1, epoch=1))
    # Another run with the same seed, whatever the global random state
    # (another worker, another process, or after a resume).
    np.random.seed(123)
    random.seed(123)
    assert np.array_equal(epoch0, crop(second, seed=1, epoch=0))
    assert not np.array_equal(epoch0, crop(second, seed=2, epoch=0))


def test_samples_of_an_epoch_draw_independently(folder):
    dataset = train_set(folder)
    # Index 0 and 2 are the same noise picture (every file is): different
    # crops show that the sample index enters the seed.
    assert not np.array_equal(crop(dataset, 1, 0, index=0),
                              crop(dataset, 1, 0, index=2))


def test_augmentation_leaves_the_global_streams_alone(folder):
    dataset = train_set(folder)
    dataset.set_augmentation_epoch(1, 0)
    np.random.seed(5)
    random.seed(5)
    expected = (np.random.rand(), random.random())
    np.random.seed(5)
    random.seed(5)
    dataset[0]
    assert (np.random.rand(), random.random()) == expected


def test_coop_datasets_ignore_exif_and_own_photos_honour_it(tmp_path):
    photo = tmp_path / 'photo.jpg'
    noise_image(photo, size=(64, 48), exif=ROTATE_90_CW)
    load = TRANSFORMS.build(dict(type='RMTLoadImage'))
    as_stored = load(dict(img_path=str(photo), exif_orientation=False))
    upright = load(dict(img_path=str(photo), exif_orientation=True))
    # The reference: Image.open(path).convert('RGB'), no EXIF, as BGR.
    with Image.open(photo) as image:
        reference = np.asarray(image.convert('RGB'))[..., ::-1]
    assert np.array_equal(as_stored['img'], reference)
    assert as_stored['img'].shape[:2] == as_stored['ori_shape'] == (48, 64)
    assert upright['img'].shape[:2] == (64, 48)
    # Turned clockwise: the stored left column becomes the top row.
    assert np.array_equal(upright['img'][0], reference[::-1, 0])


def test_each_dataset_says_how_its_images_are_decoded(tmp_path):
    dtd_root = make_tree(tmp_path, 'RMTFewShotDTD')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dtd = DATASETS.build(dict(type='RMTFewShotDTD',
                                  data_root=str(dtd_root), split='test',
                                  serialize_data=False))
    assert dtd.get_data_info(0)['exif_orientation'] is False
    folder = tmp_path / 'own'
    for split in ('train', 'test'):
        (folder / split / 'a').mkdir(parents=True)
        noise_image(folder / split / 'a' / '0.png')
    own = DATASETS.build(dict(type='RMTFewShotImageFolder',
                              data_root=str(folder), split='test',
                              serialize_data=False))
    assert own.get_data_info(0)['exif_orientation'] is True
    assert TRAIN_PIPELINE[0].type == 'RMTLoadImage'


def test_undecodable_image_names_its_path(tmp_path):
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not an image')
    load = TRANSFORMS.build(dict(type='RMTLoadImage'))
    with pytest.raises(OSError, match='failed to load image: .*broken.jpg'):
        load(dict(img_path=str(broken)))
    with pytest.raises(FileNotFoundError):
        load(dict(img_path=str(tmp_path / 'missing.jpg')))
