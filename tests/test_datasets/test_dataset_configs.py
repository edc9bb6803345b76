"""configs/_base_/datasets/*.py and the own-folder example config."""
import warnings
from pathlib import Path

import pytest
from fewshot_fakes import make_tree, write_images
from mmengine.config import Config
from mmpretrain.registry import DATASETS

CONFIGS = Path(__file__).parents[2] / 'configs'
SHARED_BASE = CONFIGS / '_base_' / 'datasets' / 'fewshot.py'
DATASET_CONFIGS = sorted(
    p for p in (CONFIGS / '_base_' / 'datasets').glob('*.py')
    if p != SHARED_BASE)
BENCHMARK_CONFIGS = [p for p in DATASET_CONFIGS if p.stem != 'image_folder']
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
README = CONFIGS.parent / 'README.md'


def test_every_dataset_has_a_config():
    assert len(DATASET_CONFIGS) == 16
    types = {Config.fromfile(path).test_dataloader.dataset.type
             for path in DATASET_CONFIGS}
    assert types == {name for name in DATASETS.module_dict
                     if name.startswith('RMTFewShot')}


@pytest.mark.parametrize('path', DATASET_CONFIGS, ids=lambda p: p.stem)
def test_dataset_configs_state_only_their_own_values(path):
    """Pipelines, loaders and CLIP's mean/std live in the shared base; a
    dataset file holds at most six lines (the ImageNet variants inherit
    ImageNet's and swap the test set)."""
    text = path.read_text()
    assert len(text.splitlines()) <= 6
    for shared in ('pipeline', 'mean=', 'batch_size', 'sampler', 'evaluator'):
        assert shared not in text, shared
    raw = Config.fromfile(path, import_custom_modules=False)._cfg_dict
    # Nothing that looks overridable but is not (tools/train.py --shots,
    # --seed and --data-root set the loaders').
    for name in ('num_shots', 'data_root', 'dataset_type', 'seed'):
        assert name not in raw, name


def test_no_config_has_fake_top_level_run_variables():
    for path in CONFIGS.rglob('*.py'):
        raw = Config.fromfile(path, import_custom_modules=False)._cfg_dict
        for name in ('num_shots', 'data_root', 'dataset_type'):
            assert name not in raw, f'{path}: top-level {name}'


@pytest.mark.parametrize('path', BENCHMARK_CONFIGS, ids=lambda p: p.stem)
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
    root = make_tree(tmp_path, 'RMTFewShotEuroSAT')
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
    assert len(example.read_text().splitlines()) <= 12
    cfg = Config.fromfile(example)
    # Its own base: no DTD class count, nothing from DTD at all.
    assert 'dtd' not in example.read_text()
    assert cfg.data_preprocessor.num_classes is None
    base = Config.fromfile(CONFIGS / 'rmt' / 'rmt_vitb16_dtd_16shot.py')
    root = tmp_path / 'my_dataset'
    # 40 images per class: 20 train, 8 val, 12 test.
    write_images(root, [f'{c}/{i}.jpg' for c in ('ant', 'bee')
                        for i in range(40)])
    for loader in LOADERS:
        dataset = cfg[loader].dataset
        assert dataset.type == 'RMTFewShotImageFolder'
        assert dataset.data_root == 'data/my_dataset'
        assert dataset.split == base[loader].dataset.split
        assert dataset.pipeline == base[loader].dataset.pipeline
        assert cfg[loader].batch_size == base[loader].batch_size
        built = DATASETS.build(
            dict(dataset, data_root=str(root), serialize_data=False))
        assert built.metainfo['classes'] == ('ant', 'bee')


def test_a_new_dataset_is_a_six_line_config(tmp_path):
    folder = tmp_path / 'configs'
    folder.mkdir()
    new = folder / 'my_textures.py'
    new.write_text(
        f"_base_ = '{SHARED_BASE}'\n"
        'data_preprocessor = dict(num_classes=2)\n'
        "train_dataloader = dict(dataset=dict(type='RMTFewShotImageFolder', "
        "data_root='x'))\n"
        "val_dataloader = dict(dataset=dict(type='RMTFewShotImageFolder', "
        "data_root='x'))\n"
        "test_dataloader = dict(dataset=dict(type='RMTFewShotImageFolder', "
        "data_root='x'))\n")
    cfg = Config.fromfile(new)
    assert cfg.train_dataloader.sampler.type == 'RMTGlobalBatchSampler'
    assert cfg.train_dataloader.dataset.pipeline[1].scale == 224
    assert cfg.val_dataloader.dataset.num_shots == 16


def test_readme_custom_folder_snippet_runs_as_written(tmp_path):
    """The README's snippet, saved as configs/rmt/<name>.py, builds a
    training set whose images of any size come out 224 x 224."""
    text = README.read_text()
    start = text.index('## Your own images')
    snippet = text[text.index('```python', start) + len('```python'):]
    snippet = snippet[:snippet.index('```')]
    rmt = tmp_path / 'configs' / 'rmt'
    rmt.mkdir(parents=True)
    for path in CONFIGS.rglob('*.py'):
        target = tmp_path / 'configs' / path.relative_to(CONFIGS)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    (rmt / 'my_dataset.py').write_text(snippet)
    cfg = Config.fromfile(rmt / 'my_dataset.py')
    root = tmp_path / 'my_dataset'
    write_images(root, [f'{c}/{i}.jpg' for c in ('ant', 'bee')
                        for i in range(10)])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # 5 training images per class
        dataset = DATASETS.build(
            dict(cfg.train_dataloader.dataset, data_root=str(root)))
    assert dataset[0]['inputs'].shape == (3, 224, 224)
