"""The ten CoOp datasets with a fixed split, on fabricated folders."""
import os.path as osp

import pytest
from fewshot_fakes import AIRCRAFT, COUNTS, JSON_SPECS, build, make_tree


@pytest.mark.parametrize('name', sorted(JSON_SPECS))
def test_json_datasets_read_coop_split(tmp_path, name):
    spec = JSON_SPECS[name]
    root = make_tree(tmp_path, name)
    num_classes = len(spec.classes)
    for split, counts in COUNTS.items():
        dataset = build(name, root, split=split)
        # Names come verbatim from the json, which holds CoOp's cleaned names
        # (decoy folders such as Caltech's BACKGROUND_Google play no part).
        assert dataset.metainfo['classes'] == tuple(c for _, c in spec.classes)
        assert dataset.metainfo['templates'] == (spec.template, )
        assert len(dataset) == sum(counts[:num_classes])
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        assert all(osp.isabs(info['img_path']) for info in infos)
        assert all(osp.isfile(info['img_path']) for info in infos)
        labels = [info['gt_label'] for info in infos]
        assert sorted(set(labels)) == list(range(num_classes))
        assert all(isinstance(label, int) for label in labels)


def test_caltech_names(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotCaltech101')
    classes = build('RMTFewShotCaltech101', root).metainfo['classes']
    assert classes == ('face', 'leopard', 'motorbike', 'accordion',
                       'airplane')
    assert not {'BACKGROUND_Google', 'Faces_easy', 'Faces'} & set(classes)


def test_stanford_cars_paths_are_relative_to_data_root(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotStanfordCars')
    test = build('RMTFewShotStanfordCars', root, split='test')
    first = test.get_data_info(0)['img_path']
    assert first.startswith(str(root / 'cars_test') + osp.sep)


def test_fgvc_aircraft_reads_official_lists(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotFGVCAircraft')
    for split, counts in COUNTS.items():
        dataset = build('RMTFewShotFGVCAircraft', root, split=split)
        assert dataset.metainfo['classes'] == tuple(AIRCRAFT)
        assert dataset.metainfo['templates'] == (
            'a photo of a {}, a type of aircraft.', )
        assert len(dataset) == sum(counts[:len(AIRCRAFT)])
        info = dataset.get_data_info(0)
        assert osp.dirname(info['img_path']) == str(root / 'images')


def test_fgvc_aircraft_unknown_variant(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotFGVCAircraft')
    with open(root / 'images_variant_test.txt', 'a') as file:
        file.write('1234567 Concorde\n')
    with pytest.raises(ValueError, match='Concorde'):
        build('RMTFewShotFGVCAircraft', root, split='test')


def test_templates_can_be_overridden(tmp_path):
    root = make_tree(tmp_path, 'RMTFewShotDTD')
    dataset = build('RMTFewShotDTD', root, templates=['{} pattern.', 'a {}.'])
    assert dataset.metainfo['templates'] == ('{} pattern.', 'a {}.')
    described = repr(dataset).splitlines()
    for line in (f'Data root: \t{dataset.data_root}',
                 f'Split: \t{dataset.split}',
                 f'Shots per class: \t{dataset.num_shots}',
                 f'Seed: \t{dataset.seed}',
                 f'Classes subset: \t{dataset.subsample}',
                 "Templates: \t('{} pattern.', 'a {}.')"):
        assert '    ' + line in described
