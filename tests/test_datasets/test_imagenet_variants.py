"""ImageNet and its test-only variants on fabricated folders."""
import json
import random
import warnings

import pytest
from fewshot_fakes import (COUNTS, SORTED_WNIDS, SUBSET_WNIDS, WNIDS, build,
                           make_tree, relative_items)

NAMES = tuple(WNIDS[wnid] for wnid in SORTED_WNIDS)
PHOTO = ('a photo of a {}.', )


def test_imagenet_full_splits(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotImageNet')
    train = build('RMTFewShotImageNet', root, split='train')
    assert train.metainfo['classes'] == NAMES  # labels follow sorted wnids
    assert train.metainfo['templates'] == PHOTO
    assert len(train) == sum(COUNTS['train'])
    items = relative_items(train, root / 'images')
    assert items[0] == (f'train/{SORTED_WNIDS[0]}/{SORTED_WNIDS[0]}_0000.JPEG',
                        0)
    assert all(path.split('/')[1] == SORTED_WNIDS[label]
               for path, label in items)
    for split in ('val', 'test'):  # both are the official validation set
        dataset = build('RMTFewShotImageNet', root, split=split, num_shots=1)
        assert len(dataset) == sum(COUNTS['val'])
        assert all(path.startswith('val/') for path, _ in relative_items(
            dataset, root / 'images'))


def test_imagenet_fewshot_draws_train_only(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotImageNet')
    stream = random.Random(3)
    expected = []
    for label, wnid in enumerate(SORTED_WNIDS):
        files = [(f'train/{wnid}/{wnid}_{i:04d}.JPEG', label)
                 for i in range(COUNTS['train'][label])]
        expected += stream.sample(files, 4) if len(files) >= 4 else files
    with pytest.warns(UserWarning, match='great white shark'):
        train = build('RMTFewShotImageNet', root, num_shots=4, seed=3)
    assert relative_items(train, root / 'images') == expected
    cache = json.loads((root / 'split_fewshot/shot_4-seed_3.json').read_text())
    assert list(cache) == ['train']


def test_imagenet_unknown_class_folder(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotImageNet')
    (root / 'images/val/n99999999').mkdir()
    with pytest.raises(ValueError, match='n99999999'):
        build('RMTFewShotImageNet', root, split='val')


@pytest.mark.parametrize('name, classes', [
    ('RMTFewShotImageNetV2', NAMES),
    ('RMTFewShotImageNetSketch', NAMES),
    ('RMTFewShotImageNetA', tuple(WNIDS[w] for w in sorted(SUBSET_WNIDS))),
    ('RMTFewShotImageNetR', tuple(WNIDS[w] for w in sorted(SUBSET_WNIDS))),
])
def test_test_only_variants(tmp_path, name, classes):
    root = make_tree(tmp_path, name)
    for split in ('val', 'test'):
        dataset = build(name, root, split=split, num_shots=16)
        assert dataset.metainfo['classes'] == classes
        assert dataset.metainfo['templates'] == PHOTO
        assert len(dataset) == 2 * len(classes)  # README.txt is skipped
        labels = [dataset.get_data_info(i)['gt_label']
                  for i in range(len(dataset))]
        assert labels == sorted(labels)
        assert set(labels) == set(range(len(classes)))
    with pytest.raises(ValueError, match='split must be one of'):
        build(name, root, split='train')


def test_imagenet_v2_folder_index_is_the_label(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotImageNetV2')
    test = build('RMTFewShotImageNetV2', root, split='test')
    image_root = root / 'imagenetv2-matched-frequency-format-val'
    assert all(path.split('/')[0] == str(label)
               for path, label in relative_items(test, image_root))


def test_variant_base_new(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotImageNetA')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        new = build('RMTFewShotImageNetA', root, split='test', subsample='new')
    assert new.metainfo['classes'] == (WNIDS['n01514859'], )
    assert len(new) == 2
