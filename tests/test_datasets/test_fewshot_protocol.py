"""CoOp's few-shot draw, its cache and the base/new class halves."""
import json
import math
import random
import re
import warnings

import pytest
from fewshot_fakes import JSON_SPECS, build, make_tree, relative_items

from rmt_mm.datasets.fewshot import scan_dir


def coop_reference(split_file, num_shots, seed):
    """CoOp's subsets, recomputed independently of rmt_mm.

    Dassl seeds Python's global ``random`` and calls its few-shot generator
    on the training list with K, then on the validation list with
    ``min(K, 4)``; the generator groups a list by label (first appearance
    first) and samples K of each group that has at least K items.
    """
    with open(split_file) as file:
        split = json.load(file)
    stream = random.Random(seed)
    subsets = {}
    for name, shots in (('train', num_shots), ('val', min(num_shots, 4))):
        groups = {}
        for path, label, _ in split[name]:
            groups.setdefault(label, []).append((path, label))
        subsets[name] = []
        for group in groups.values():
            subsets[name] += (stream.sample(group, shots)
                              if len(group) >= shots else group)
    return subsets


@pytest.mark.parametrize('name', ['RMTFewShotDTD', 'RMTFewShotCaltech101'])
@pytest.mark.parametrize('num_shots', [1, 2, 4, 8])
@pytest.mark.parametrize('seed', [1, 2, 3])
def test_subsets_match_coop(tmp_path, name, num_shots, seed):
    spec = JSON_SPECS[name]
    root = make_tree(tmp_path, name)
    expected = coop_reference(root / spec.split_file, num_shots, seed)
    image_root = root / spec.image_dir
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for split in ('train', 'val'):
            dataset = build(name, root, split=split, num_shots=num_shots,
                            seed=seed)
            assert relative_items(dataset, image_root) == expected[split]
        # The test split is never subsampled.
        test = build(name, root, split='test', num_shots=num_shots, seed=seed)
    test_list = json.loads((root / spec.split_file).read_text())['test']
    assert len(test) == len(test_list)


def test_val_is_drawn_after_train_even_when_asked_first(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotDTD')
    spec = JSON_SPECS['RMTFewShotDTD']
    expected = coop_reference(root / spec.split_file, 2, 5)
    val = build('RMTFewShotDTD', root, split='val', num_shots=2, seed=5)
    assert relative_items(val, root / spec.image_dir) == expected['val']
    # The same draw also fixed the training subset, now read from the cache.
    cache = json.loads((root / 'split_fewshot/shot_2-seed_5.json').read_text())
    assert cache == {k: [p for p, _ in v] for k, v in expected.items()}


def test_cache_is_reused(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotDTD')
    image_root = root / 'images'
    first = build('RMTFewShotDTD', root, num_shots=1, seed=1)
    cache_file = root / 'split_fewshot' / 'shot_1-seed_1.json'
    assert cache_file.is_file()
    # Replace the cached choice by another valid one: it must be used.
    split_file = root / JSON_SPECS['RMTFewShotDTD'].split_file
    split = json.loads(split_file.read_text())
    chosen = dict(relative_items(first, image_root))
    unused = {}
    for path, label, _ in split['train']:
        if path not in chosen:
            unused.setdefault(label, path)
    other = list(unused.values())
    cache = json.loads(cache_file.read_text())
    cache['train'] = other
    cache_file.write_text(json.dumps(cache))
    again = build('RMTFewShotDTD', root, num_shots=1, seed=1)
    assert [p for p, _ in relative_items(again, image_root)] == other


def test_cache_dir_argument(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotEuroSAT')
    cache_dir = tmp_path / 'caches' / 'eurosat'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        build('RMTFewShotEuroSAT', root, num_shots=4, seed=2,
              cache_dir=str(cache_dir))
    assert (cache_dir / 'shot_4-seed_2.json').is_file()
    assert not (root / 'split_fewshot').exists()


def test_unwritable_cache_warns_and_still_draws(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotDTD')
    # A file where the cache folder should be: works even for root.
    (root / 'split_fewshot').write_text('')
    with pytest.warns(UserWarning) as records:
        dataset = build('RMTFewShotDTD', root, num_shots=1, seed=1)
    assert len(dataset) == 4
    cache_file = re.escape(str(root / 'split_fewshot' / 'shot_1-seed_1.json'))
    assert re.fullmatch(
        f'FewShotDTD: cannot write the few-shot cache {cache_file}'
        r' \(.+\); the subset is drawn again on every run \(same seed, same '
        r'subset\)\. Pass cache_dir=\.\.\. to keep it\.',
        str(records[0].message))


def test_stale_cache_is_an_error(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotDTD')
    cache_file = root / 'split_fewshot' / 'shot_1-seed_1.json'
    cache_file.parent.mkdir()
    for content, problem in (
            ({'train': ['gone/x.jpg'], 'val': []},
             "lists 1 image(s) outside the 'train' split, e.g. gone/x.jpg"),
            ({'val': []}, "has no 'train' list")):
        cache_file.write_text(json.dumps(content))
        with pytest.raises(ValueError) as info:
            build('RMTFewShotDTD', root, num_shots=1, seed=1)
        assert str(info.value) == (
            f'FewShotDTD: the few-shot cache {cache_file} {problem}; it was '
            'written for other data. Delete it to draw the subset again.')


def test_small_classes_warn_once_naming_them(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotDTD')
    with pytest.warns(UserWarning) as records:
        train = build('RMTFewShotDTD', root, num_shots=6, seed=1)
    messages = [str(r.message) for r in records]
    assert len(messages) == 1
    # Train counts are 6, 5, 3, 7: 'blotchy' and 'braided' are short.
    assert messages[0] == (
        'FewShotDTD: 2 class(es) have fewer than 6 train images and keep all '
        'they have: blotchy, braided.')
    assert len(train) == 6 + 5 + 3 + 6
    # At most ten are named.
    for count, named in ((10, 'c0, c1, c2, c3, c4, c5, c6, c7, c8, c9'),
                         (11, 'c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, ...')):
        with pytest.warns(UserWarning) as records:
            train._warn_small_classes([f'c{i}' for i in range(count)], [])
        assert str(records[0].message) == (
            f'FewShotDTD: {count} class(es) have fewer than 6 train images '
            f'and keep all they have: {named}.')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        build('RMTFewShotDTD', root, num_shots=3, seed=1)


@pytest.mark.parametrize('subsample', ['base', 'new'])
@pytest.mark.parametrize('split', ['train', 'val', 'test'])
def test_base_new_halves(tmp_path, subsample, split):
    name = 'RMTFewShotCaltech101'  # 5 classes: base 0-2, new 3-4
    spec = JSON_SPECS[name]
    root = make_tree(tmp_path, name)
    image_root = root / spec.image_dir
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        full = build(name, root, split=split, num_shots=4, seed=1)
        half = build(name, root, split=split, num_shots=4, seed=1,
                     subsample=subsample)
    names = [c for _, c in spec.classes]
    cut = math.ceil(len(names) / 2)
    kept = range(cut) if subsample == 'base' else range(cut, len(names))
    assert half.metainfo['classes'] == tuple(names[kept.start:kept.stop])
    # Subsampling comes after the few-shot draw and relabels from 0.
    assert relative_items(half, image_root) == [
        (path, label - kept.start)
        for path, label in relative_items(full, image_root) if label in kept
    ]


def test_all_images_when_num_shots_is_minus_one(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotDTD')
    assert len(build('RMTFewShotDTD', root, num_shots=-1)) == 6 + 5 + 3 + 7
    assert not (root / 'split_fewshot').exists()


def test_folder_listing_skips_hidden_entries_and_separates_folders(tmp_path):
    for name in ('b', 'a', '.ipynb_checkpoints'):
        (tmp_path / name).mkdir()
    for name in ('notes.txt', '.DS_Store'):
        (tmp_path / name).write_text('')
    assert scan_dir(str(tmp_path), dirs=True) == ['a', 'b']
    assert scan_dir(str(tmp_path), dirs=False) == ['notes.txt']
