import json
import math

import numpy as np
import pytest
import torch
from rmt_testing import load_tool

from rmt_mm.fileio import FileRefusedError, save_mask_file
from rmt_mm.runs import plots

PNG = b'\x89PNG\r\n\x1a\n'

visualize = load_tool('visualize')


def keep(total, dropped, shape):
    mask = torch.ones(total, dtype=torch.bool)
    mask[:dropped] = False
    return mask.reshape(shape)


@pytest.fixture
def masks():
    """conv1 50% dropped, block 0 in_proj 25% and out_proj 0%, block 1
    out_proj 75%; block 1 in_proj is not masked."""
    prefix = 'visual.transformer.resblocks'
    return {
        'visual.conv1.weight': keep(8, 4, (2, 1, 2, 2)),
        f'{prefix}.0.attn.in_proj_weight': keep(12, 3, (6, 2)),
        f'{prefix}.0.attn.out_proj.weight': keep(4, 0, (2, 2)),
        f'{prefix}.1.attn.out_proj.weight': keep(4, 3, (2, 2)),
    }


def test_sparsity_grid_numbers(masks):
    grid = plots.sparsity_grid(masks)
    assert grid.rows == ['outside blocks', 'block 0', 'block 1']
    assert grid.columns == ['conv1', 'attn.in_proj', 'attn.out_proj']
    # Exact: ratios of small integers that are exactly representable; the
    # overall 10 / 28 is the same Python division (approx's default rel).
    expected = [[0.5, None, None], [None, 0.25, 0.0], [None, None, 0.75]]
    for row, values in zip(grid.sparsity, expected):
        for value, want in zip(row, values):
            assert (math.isnan(value) if want is None else value == want)
    assert (grid.dropped, grid.total) == (10, 28)
    assert grid.overall == pytest.approx(10 / 28)


def test_blocks_without_masks_are_rows_without_values(masks):
    arch = dict(vision_cfg=dict(layers=4))  # as a mask file records it
    grid = plots.sparsity_grid(masks, arch)
    assert grid.rows == ['outside blocks'] + [f'block {i}' for i in range(4)]
    assert grid.columns == ['conv1', 'attn.in_proj', 'attn.out_proj']
    assert np.isnan(grid.sparsity[3:]).all()  # blocks 2 and 3: grey
    assert grid.sparsity[2, 2] == 0.75
    assert (grid.dropped, grid.total) == (10, 28)


@pytest.mark.parametrize('arch,blocks', [
    ('ViT-B-16', [f'block {i}' for i in range(12)]),
    ('RN50', [f'layer{j}.{i}' for j, n in zip(range(1, 5), (3, 4, 6, 3))
              for i in range(n)]),
    ('tiny', []),  # unknown: the masked blocks only
    (None, []),
])
def test_model_blocks(arch, blocks):
    assert plots.model_blocks(arch) == blocks


def test_the_title_names_the_run_and_file_not_a_path():
    assert plots.mask_file_label('/home/u/work_dirs/rmt_dtd/masks_final.pth'
                                 ) == 'rmt_dtd/masks_final.pth'


@pytest.mark.parametrize('name,cell', [
    ('visual.transformer.resblocks.11.mlp.c_fc.weight',
     ('block 11', 'mlp.c_fc')),
    ('visual.transformer.resblocks.3.attn', ('block 3', 'attn')),
    ('visual.layer2.1.conv3.weight', ('layer2.1', 'conv3')),
    ('visual.attnpool.q_proj.weight', ('outside blocks', 'attnpool.q_proj')),
    ('visual.conv1', ('outside blocks', 'conv1')),
])
def test_locate(name, cell):
    assert plots.locate(name) == cell


@pytest.mark.parametrize('arch', ['tiny', dict(vision_cfg=dict(layers=4))])
def test_masks_command_draws_a_png(masks, tmp_path, arch):
    mask_file = str(tmp_path / 'masks_final.pth')
    save_mask_file(mask_file, masks, dict(arch=arch))
    out = visualize.main(['masks', mask_file, '--out',
                          str(tmp_path / 'heat.png')])
    with open(out, 'rb') as f:
        assert f.read(8) == PNG
    default = visualize.main(['masks', mask_file])
    assert default == str(tmp_path / 'masks_final_sparsity.png')
    with open(default, 'rb') as f:
        assert f.read(8) == PNG


SELECTION = dict(
    mode='importance',
    groups=[
        dict(name='visual.transformer.resblocks.0.attn', params=30,
             score=0.5, selected=True),
        dict(name='visual.transformer.resblocks.0.mlp', params=60,
             score=0.1, selected=False),
        dict(name='visual.conv1', params=8, score=0.3, selected=True),
    ],
    selected_names=[])


def test_selection_bars():
    bars = plots.selection_bars(SELECTION)
    # Exact: scores are copied from the record.
    assert [(b.label, b.score, b.params, b.selected) for b in bars] == [
        ('block 0 attn', 0.5, 30, True),
        ('block 0 mlp', 0.1, 60, False),
        ('conv1', 0.3, 8, True),
    ]
    with pytest.raises(ValueError, match='importance'):
        plots.selection_bars(
            dict(mode='fixed', groups=[], selected_names=['x']))


def test_selection_command_draws_a_png(tmp_path):
    path = tmp_path / 'mask_selection.json'
    path.write_text(json.dumps(SELECTION))
    out = visualize.main(['selection', str(path), '--out',
                          str(tmp_path / 'bars.png')])
    with open(out, 'rb') as f:
        assert f.read(8) == PNG


def test_training_curves_of_a_run(trained_run, tmp_path):
    curves = plots.training_curves(str(trained_run.work_dir))
    updates = trained_run.updates
    epochs = trained_run.cfg.train_cfg.max_epochs
    assert curves.updates == list(range(1, updates + 1))
    assert len(curves.sparsity) == len(curves.flips_off) == updates
    # Zero-shot before the first update, then after each epoch's last.
    per_epoch = updates // epochs
    assert curves.val_updates == [e * per_epoch for e in range(epochs + 1)]
    assert curves.kept_update == updates  # 'last': the final epoch
    out = visualize.main(['training', str(trained_run.work_dir), '--out',
                          str(tmp_path / 'training.png')])
    with open(out, 'rb') as file:
        assert file.read(8) == PNG


def test_training_curves_need_the_flip_record(tmp_path):
    with pytest.raises(FileRefusedError, match='holds no per-update mask '
                       'record'):
        plots.training_curves(str(tmp_path))
