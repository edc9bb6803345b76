"""model-index.yml and its metafiles follow OpenMMLab's format (every
collection with its paper), load in mmpretrain's ``modelindex`` and agree
with the configs and the paper's numbers."""
import glob
import os.path as osp

import pytest
import yaml
from mmengine.config import Config

from rmt_mm.runs.experiments import PAPER_DATASETS, REPORTED

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
METAFILE = 'configs/rmt/metafile.yml'


def load(path):
    with open(osp.join(REPO, path)) as f:
        return yaml.safe_load(f)


METADATA = load(METAFILE)
MODELS = METADATA['Models']


def test_model_index_imports_the_metafile():
    imports = load('model-index.yml')['Import']
    assert METAFILE in imports
    assert all(osp.isfile(osp.join(REPO, p)) for p in imports)


def test_collection():
    (collection, ) = METADATA['Collections']
    assert collection['Name'] == 'RMT'
    assert collection['Paper']['Title'].startswith('Regularized Mask Tuning')
    assert collection['Paper']['URL'] == 'https://arxiv.org/abs/2307.15049'
    assert osp.isfile(osp.join(REPO, collection['README']))


def test_every_16shot_config_is_listed():
    configs = sorted(
        osp.relpath(p, REPO) for p in glob.glob(
            osp.join(REPO, 'configs/rmt/rmt_vitb16_*_16shot.py')))
    assert configs
    assert sorted(m['Config'] for m in MODELS) == configs


@pytest.mark.parametrize('model', MODELS, ids=lambda m: m['Name'])
def test_model_entry(model):
    config = osp.join(REPO, model['Config'])
    assert model['Name'] == osp.splitext(osp.basename(config))[0]
    cfg = Config.fromfile(config)
    assert cfg.model.type == 'RMTClassifier'
    assert model['In Collection'] == 'RMT'
    assert model['Weights'] is None
    metadata = model['Metadata']
    # All of CLIP ViT-B/16; image-encoder FLOPs of one 224x224 image.
    assert metadata['Parameters'] == 149_620_737
    assert isinstance(metadata['FLOPs'], int) and metadata['FLOPs'] > 0
    dataset = model['Name'][len('rmt_vitb16_'):-len('_16shot')]
    assert metadata['Training Data'] == PAPER_DATASETS[dataset]
    (result, ) = model['Results']
    assert result['Dataset'] == PAPER_DATASETS[dataset]
    assert result['Reported'] is True
    assert result['Metrics']['Top 1 Accuracy'] == REPORTED[16][dataset]


def test_readme_names_every_model_and_labels_reported_numbers():
    with open(osp.join(REPO, 'configs/rmt/README.md')) as f:
        readme = f.read()
    assert 'reported (paper)' in readme and 'measured (ours)' in readme
    for model in MODELS:
        dataset = model['Name'][len('rmt_vitb16_'):-len('_16shot')]
        assert (f'`{model["Name"]}` | {PAPER_DATASETS[dataset]} | '
                in readme)
        assert f'| {REPORTED[16][dataset]:.2f} |' in readme


OTHER_METAFILES = ('configs/zero_shot/metafile.yml',
                   'configs/coop/metafile.yml',
                   'configs/tip_adapter/metafile.yml',
                   'configs/rmt/metafile_combinations.yml')


def test_every_method_config_is_listed_with_its_reported_number():
    from rmt_mm.runs.experiments import METHODS, REPORTED_METHODS
    imports = load('model-index.yml')['Import']
    assert set(OTHER_METAFILES) <= set(imports)
    listed = {m['Config']: m for path in OTHER_METAFILES
              for m in load(path)['Models']}
    for method, spec in METHODS.items():
        for dataset, label in PAPER_DATASETS.items():
            config = spec.config.format(dataset=dataset)
            assert osp.isfile(osp.join(REPO, config)), config
            if method == 'rmt':
                continue
            entry = listed[config]
            assert entry['Metadata']['Training Data'] == label
            reported = (REPORTED[0] if method == 'zero_shot' else
                        REPORTED_METHODS.get(method, {})).get(dataset)
            results = entry.get('Results') or []
            if reported is None:
                assert not results, config  # nothing reported: no number
            else:
                (result, ) = results
                assert result['Reported'] is True
                # Exact: the metafile copies the reported literal.
                assert result['Metrics']['Top 1 Accuracy'] == reported


def test_reported_method_averages_match_their_rows():
    from rmt_mm.runs.experiments import (REPORTED_METHODS,
                                         REPORTED_METHODS_AVERAGE)

    # The paper prints averages to 2 decimals: abs=0.01 is that rounding
    # (Python float64 sums add ~1e-14).
    for method, row in REPORTED_METHODS.items():
        assert sum(row.values()) / len(row) == pytest.approx(
            REPORTED_METHODS_AVERAGE[method], abs=0.01), method


#: The paper of every collection: R-AMT and its combinations, the methods
#: it compares with, and CLIP for zero-shot.
PAPERS = {
    'RMT': 'https://arxiv.org/abs/2307.15049',
    'CoOpRMT': 'https://arxiv.org/abs/2307.15049',
    'TipAdapterRMT': 'https://arxiv.org/abs/2307.15049',
    'TipAdapterFRMT': 'https://arxiv.org/abs/2307.15049',
    'CoOp': 'https://arxiv.org/abs/2109.01134',
    'TipAdapter': 'https://arxiv.org/abs/2207.09519',
    'TipAdapterF': 'https://arxiv.org/abs/2207.09519',
    'ZeroShotCLIP': 'https://arxiv.org/abs/2103.00020',
}
TITLES = {
    'https://arxiv.org/abs/2307.15049': 'Regularized Mask Tuning: Uncovering '
    'Hidden Knowledge in Pre-trained Vision-Language Models',
    'https://arxiv.org/abs/2109.01134': 'Learning to Prompt for '
    'Vision-Language Models',
    'https://arxiv.org/abs/2207.09519': 'Tip-Adapter: Training-free '
    'Adaption of CLIP for Few-shot Classification',
    'https://arxiv.org/abs/2103.00020': 'Learning Transferable Visual '
    'Models From Natural Language Supervision',
}


def test_every_collection_names_its_paper():
    collections = {c['Name']: c for path in load('model-index.yml')['Import']
                   for c in load(path)['Collections']}
    assert sorted(collections) == sorted(PAPERS)
    for name, collection in collections.items():
        url = collection['Paper']['URL']
        assert url == PAPERS[name], name
        assert collection['Paper']['Title'] == TITLES[url], name


def test_mmpretrains_modelindex_loader_reads_the_index():
    from modelindex.load_model_index import load as load_index
    index = load_index(osp.join(REPO, 'model-index.yml'))
    index.build_models_with_collections()
    names = [m['Name'] for path in load('model-index.yml')['Import']
             for m in load(path)['Models']]
    assert [m.name for m in index.models] == names
    for model in index.models:
        # Inherited from its collection.
        assert model.full_model.paper['URL'] == PAPERS[model.in_collection]
        assert osp.isfile(osp.join(REPO, model.config)), model.name
    # OpenMMLab's metafiles (mmpretrain's too) name READMEs from the
    # repository root, which modelindex's check resolves from the
    # metafile's folder; every other check passes.
    errors = index.check(silent=True)
    assert [e for e in errors if 'Path to README file' not in e] == []
