"""configs/_base_/datasets/*.py and the own-folder example config."""
import warnings
from pathlib import Path

import pytest
from mmengine.config import Config
from mmpretrain.registry import DATASETS

from fewshot_fakes import make_tree, write_images

CONFIGS = Path(__file__).parents[2] / 'configs'
DATASET_CONFIGS = sorted((CONFIGS / '_base_' / 'datasets').glob('*.py'))
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def test_every_dataset_has_a_config():
    assert len(DATASET_CONFIGS) == 15
    types = {Config.fromfile(path).test_dataloader.dataset.type
             for path in DATASET_CONFIGS}
    assert types == {name for name in DATASETS.module_dict
                     if name.startswith('FewShot')} - {'FewShotImageFolder'}


@pytest.mark.parametrize('path', DATASET_CONFIGS, ids=lambda p: p.stem)
def test_dataset_config_builds_on_fabricated_data(tmp_path, path):
    cfg = Config.fromfile(path)
    assert cfg.pretty_text  # fails on anything that is not plain data
    assert cfg.train_dataloader.dataset.split == 'train'
    assert cfg.train_dataloader.dataset.num_shots == 16
    assert cfg.val_dataloader.batch_size == 100
    assert cfg.test_evaluator == dict(type='Accuracy', topk=(1, ))
    assert cfg.data_preprocessor.to_rgb
    for loader in LOADERS:
        dataset = cfg[loader].dataset
        # data/<folder> of the config becomes <tmp_path>/<folder>.
        root = tmp_path / Path(dataset.data_root).name
        if not root.exists():
            assert make_tree(tmp_path, dataset.type) == root
        dataset.update(data_root=str(root), serialize_data=False)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # the fake classes are small
            built = DATASETS.build(dataset)
        assert len(built) > 0
        assert built.metainfo['classes'] and built.metainfo['templates']


def test_pipelines_produce_224_inputs(tmp_path):
    cfg = Config.fromfile(CONFIGS / '_base_' / 'datasets' / 'eurosat.py')
    root = make_tree(tmp_path, 'FewShotEuroSAT')
    for loader in ('train_dataloader', 'test_dataloader'):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # the fake classes are small
            dataset = DATASETS.build(
                dict(cfg[loader].dataset, data_root=str(root),
                     serialize_data=False))
        sample = dataset[0]
        assert sample['inputs'].shape == (3, 224, 224)
        assert 0 <= int(sample['data_samples'].gt_label) < 4


def test_custom_folder_example(tmp_path):
    example = CONFIGS / 'rmt' / 'rmt_vitb16_custom_folder_example.py'
    assert len(example.read_text().splitlines()) <= 10
    cfg = Config.fromfile(example)
    base = Config.fromfile(CONFIGS / 'rmt' / 'rmt_vitb16_dtd_16shot.py')
    root = tmp_path / 'my_dataset'
    # 40 images per class: 20 train, 8 val, 12 test.
    write_images(root, [f'{c}/{i}.jpg' for c in ('ant', 'bee')
                        for i in range(40)])
    for loader in LOADERS:
        dataset = cfg[loader].dataset
        assert dataset.type == 'FewShotImageFolder'
        assert dataset.data_root == 'data/my_dataset'
        assert dataset.split == base[loader].dataset.split
        assert dataset.pipeline == base[loader].dataset.pipeline
        assert 'subsample' not in dataset  # the DTD keys are gone
        assert cfg[loader].batch_size == base[loader].batch_size
        built = DATASETS.build(
            dict(dataset, data_root=str(root), serialize_data=False))
        assert built.metainfo['classes'] == ('ant', 'bee')
