"""Errors name the path at fault and show the expected layout."""
import json

import pytest
from fewshot_fakes import JSON_SPECS, build, make_tree

LOAD = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def test_missing_data_root(tmp_path):
    missing = tmp_path / 'data' / 'dtd'
    with pytest.raises(FileNotFoundError) as info:
        build('RMTFewShotDTD', missing)
    message = str(info.value)
    assert f'data_root not found: {missing}' in message
    assert 'split_zhou_DescribableTextures.json' in message  # the layout


def test_missing_split_file(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotEuroSAT')
    (root / JSON_SPECS['RMTFewShotEuroSAT'].split_file).unlink()
    with pytest.raises(FileNotFoundError,
                       match='split file not found: .*split_zhou_EuroSAT'):
        build('RMTFewShotEuroSAT', root)


def test_missing_image_folder(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotUCF101')
    (root / 'UCF-101-midframes').rename(root / 'frames')
    with pytest.raises(FileNotFoundError) as info:
        build('RMTFewShotUCF101', root)
    assert str(info.value).startswith(
        f'FewShotUCF101: image folder not found: {root / "UCF-101-midframes"}')
    assert 'Expected layout' in str(info.value)


@pytest.mark.parametrize('name, missing', [
    ('RMTFewShotImageNet', 'classnames.txt'),
    ('RMTFewShotImageNetR', 'classnames.txt'),
    ('RMTFewShotFGVCAircraft', 'images_variant_val.txt'),
])
def test_missing_list_files(tmp_path, name, missing):
    root = make_tree(tmp_path, name)
    (root / missing).unlink()
    with pytest.raises(FileNotFoundError, match=missing):
        build(name, root, split='val')


@pytest.mark.parametrize('test_mode', [False, True])
def test_missing_image_names_file(tmp_path, test_mode):
    root = make_tree(tmp_path, 'RMTFewShotDTD')
    dataset = build('RMTFewShotDTD', root, split='test', pipeline=LOAD,
                    test_mode=test_mode)
    assert dataset[0]['inputs'].shape == (3, 8, 8)
    path = dataset.get_data_info(1)['img_path']
    (root / 'images' / path.split('/images/')[1]).unlink()
    with pytest.raises(FileNotFoundError) as info:
        dataset[1]
    assert str(info.value).startswith(
        f'FewShotDTD: image #1 cannot be read: {path} (')
    assert 'Expected layout' in str(info.value)


def test_corrupt_image_names_file(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotDTD')
    dataset = build('RMTFewShotDTD', root, split='test', pipeline=LOAD)
    path = dataset.get_data_info(0)['img_path']
    with open(path, 'wb') as file:
        file.write(b'not an image')
    with pytest.raises(Exception, match=path):
        dataset[0]


def test_bad_split_file(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotDTD')
    split_file = root / JSON_SPECS['RMTFewShotDTD'].split_file
    split_file.write_text(json.dumps({'train': []}))
    with pytest.raises(ValueError, match='not a CoOp split file'):
        build('RMTFewShotDTD', root)
    split_file.write_text(
        json.dumps({'train': [['a/1.jpg', 1, 'a']], 'val': [], 'test': []}))
    with pytest.raises(ValueError, match=r'labels must be 0..n-1'):
        build('RMTFewShotDTD', root)


@pytest.mark.parametrize('kwargs, message', [
    (dict(split='trainval'), "FewShotDTD: split must be one of ('train', "
     "'val', 'test'), not 'trainval'."),
    (dict(num_shots=0),
     'FewShotDTD: num_shots must be -1 (all images) or positive, not 0.'),
    (dict(subsample='half'), "FewShotDTD: subsample must be one of ('all', "
     "'base', 'new'), not 'half'."),
    (dict(templates=['a photo']), 'FewShotDTD: templates must be format '
     "strings with a \"{}\", got ('a photo',)."),
])
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError) as info:
        build('RMTFewShotDTD', tmp_path, **kwargs)
    assert str(info.value) == message
