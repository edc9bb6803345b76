"""FewShotImageFolder: one's own images, flat or pre-split."""
import json
import warnings

import pytest
from fewshot_fakes import PNG, build, relative_items, write_images

CLASSES = ('cat', 'dog', 'fox')


def make_flat(root, per_class=10):
    write_images(root, [f'{c}/{i:02d}.png' for c in CLASSES
                        for i in range(per_class)], PNG)
    write_images(root, ['cat/notes.txt', 'cat/.hidden.png', '.cache/x.png'])
    return root


def make_presplit(root, with_val=True):
    splits = {'train': 5, 'test': 2, **({'val': 3} if with_val else {})}
    for split, count in splits.items():
        write_images(root, [f'{split}/{c}/{i}.jpg' for c in CLASSES
                            for i in range(count)])
    return root


def test_flat_layout_ratio_split(tmp_path):
    root = make_flat(tmp_path / 'mine')
    splits = {
        split: relative_items(
            build('RMTFewShotImageFolder', root, split=split), root)
        for split in ('train', 'val', 'test')
    }
    assert [len(items) for items in splits.values()] == [15, 6, 9]
    paths = [path for items in splits.values() for path, _ in items]
    assert sorted(paths) == sorted(f'{c}/{i:02d}.png' for c in CLASSES
                                   for i in range(10))
    again = build('RMTFewShotImageFolder', root, split='test')
    assert relative_items(again, root) == splits['test']
    other = build('RMTFewShotImageFolder', root, split='test', split_seed=1)
    assert relative_items(other, root) != splits['test']
    dataset = build('RMTFewShotImageFolder', root, split='train')
    assert dataset.metainfo['classes'] == CLASSES
    assert dataset.metainfo['templates'] == ('a photo of a {}.', )


def test_flat_layout_fewshot_and_cache_folder_is_not_a_class(tmp_path):
    root = make_flat(tmp_path / 'mine')
    train = build('RMTFewShotImageFolder', root, split='train', num_shots=2)
    assert len(train) == 6
    assert (root / 'split_fewshot' / 'shot_2-seed_1.json').is_file()
    val = build('RMTFewShotImageFolder', root, split='val', num_shots=2)
    assert val.metainfo['classes'] == CLASSES and len(val) == 6


def test_presplit_layout(tmp_path):
    root = make_presplit(tmp_path / 'mine')
    sizes = {split: len(build('RMTFewShotImageFolder', root, split=split))
             for split in ('train', 'val', 'test')}
    assert sizes == {'train': 15, 'val': 9, 'test': 6}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        val = build('RMTFewShotImageFolder', root, split='val', num_shots=8)
    assert len(val) == 3 * 3  # min(8, 4) per class, 3 available


def test_presplit_without_val_uses_test(tmp_path):
    root = make_presplit(tmp_path / 'mine', with_val=False)
    val = build('RMTFewShotImageFolder', root, split='val', num_shots=1)
    assert len(val) == 6  # the complete test folder
    assert all(path.startswith('test/')
               for path, _ in relative_items(val, root))


def test_presplit_unknown_test_class(tmp_path):
    root = make_presplit(tmp_path / 'mine')
    write_images(root, ['test/wolf/0.jpg'])
    with pytest.raises(ValueError, match='test/wolf'):
        build('RMTFewShotImageFolder', root, split='test')


@pytest.mark.parametrize('kind', ['dict', 'json', 'txt'])
def test_classnames(tmp_path, kind):
    root = make_flat(tmp_path / 'mine')
    names = {'cat': 'tabby cat', 'fox': 'red fox'}
    if kind == 'json':
        (root / 'names.json').write_text(json.dumps(names))
        classnames = 'names.json'
    elif kind == 'txt':
        (tmp_path / 'names.txt').write_text('cat tabby cat\nfox red fox\n')
        classnames = str(tmp_path / 'names.txt')
    else:
        classnames = names
    dataset = build('RMTFewShotImageFolder', root, classnames=classnames,
                    templates=['a photo of my {}.'])
    assert dataset.metainfo['classes'] == ('tabby cat', 'dog', 'red fox')
    assert dataset.metainfo['templates'] == ('a photo of my {}.', )


def test_classnames_errors(tmp_path):
    root = make_flat(tmp_path / 'mine')
    with pytest.raises(ValueError, match='wolf'):
        build('RMTFewShotImageFolder', root, classnames={'wolf': 'grey wolf'})
    with pytest.raises(FileNotFoundError, match='missing.json'):
        build('RMTFewShotImageFolder', root, classnames='missing.json')
    with pytest.raises(ValueError, match='split_ratio'):
        build('RMTFewShotImageFolder', root, split_ratio=(0.5, 0.5, 0.5))


def test_empty_class_folder_is_an_error_naming_it(tmp_path):
    for layout, empty in (('flat', 'fox'), ('presplit', 'train/fox')):
        root = tmp_path / layout
        prefix = 'train/' if layout == 'presplit' else ''
        write_images(root, [f'{prefix}{c}/0.png' for c in ('cat', 'dog')],
                     PNG)
        (root / empty).mkdir(parents=True)
        if layout == 'presplit':
            write_images(root, ['test/cat/0.png'], PNG)
        with pytest.raises(ValueError,
                           match=f'class folder {empty} has no images'):
            build('RMTFewShotImageFolder', root, split='test')
