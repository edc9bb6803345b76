"""tools/infer.py: a mask file alone classifies images from any folder; a
config is needed only by zero-shot CLIP and by mask files that predate the
classifier record (issue 21)."""
import os.path as osp
import shutil

import numpy as np
import pytest
from rmt_testing import (TINY_VIT, load_tool, random_mask_file, refusal,
                         run_tool, succeeded)

from rmt_mm.models import MaskedCLIP
from rmt_mm.runs.infer import format_table

infer = load_tool('infer')


def table_rows(output: str, inputs: str) -> list:
    """The table's rows of the images under ``inputs``, as cells, with the
    image named relative to ``inputs``."""
    return [[osp.relpath(cells[0], inputs)] + cells[1:] for cells in
            (line.split() for line in output.splitlines()
             if line.startswith(inputs))]


@pytest.fixture
def images(tiny_world, tmp_path) -> str:
    """A copy of the tiny world's test images, outside the repository."""
    return shutil.copytree(osp.join(tiny_world.data, 'test'),
                           tmp_path / 'images')


@pytest.mark.parametrize('argv,config,masks,inputs', [
    (['m.pth', 'a.png', 'b/'], None, 'm.pth', ['a.png', 'b/']),
    (['c.py', 'm.pth', 'a.png'], 'c.py', 'm.pth', ['a.png']),
    (['c.py', 'a.png', '--masks', 'm.pth'], 'c.py', 'm.pth', ['a.png']),
    (['a.png', '--masks', 'm.pth'], None, 'm.pth', ['a.png']),
    (['c.py', 'a.png', 'b/'], 'c.py', None, ['a.png', 'b/']),
])
def test_the_paths_are_config_masks_and_inputs(argv, config, masks,
                                               inputs):
    args = infer.parse_args(argv)
    assert (args.config, args.masks, args.inputs) == (config, masks, inputs)


@pytest.mark.parametrize('argv,message', [
    (['a.png', 'b/'], "'a.png' is neither a config (.py) nor a mask file"),
    (['m.pth'], 'give at least one image or folder'),
    (['c.py', 'm.pth'], 'give at least one image or folder'),
    (['m.pth', 'c.py', 'a.png'], "give the config 'c.py' before the mask"),
])
def test_paths_without_a_model_or_inputs_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        infer.parse_args(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_the_mask_file_alone_classifies_from_any_folder(trained_run,
                                                        tiny_world, images,
                                                        tmp_path):
    masks = str(trained_run.work_dir / 'masks_final.pth')
    alone = succeeded(run_tool('infer', masks, 'images', cwd=str(tmp_path)))
    # The same table as with the training config, from the repository.
    with_config = succeeded(run_tool('infer', tiny_world.config, masks,
                                     str(images)))
    rows = table_rows(alone, 'images')
    assert len(rows) == 9 and '9 classified, 0 skipped' in alone
    assert table_rows(with_config, str(images)) == rows
    # Three classes: the header names the top-3 it shows, not a top-5.
    header = next(line for line in alone.splitlines()
                  if line.startswith('input'))
    assert header.split() == ['input', 'class', 'score', 'top-3']
    option = succeeded(run_tool('infer', 'images', '--masks', masks,
                                cwd=str(tmp_path)))
    assert table_rows(option, 'images') == rows


def test_an_old_mask_file_needs_its_config(tiny_world, images, tmp_path):
    clip = MaskedCLIP(arch=TINY_VIT, pretrained=tiny_world.weights)
    old = random_mask_file(clip, str(tmp_path / 'masks_old.pth'), seed=0)
    line = refusal(run_tool('infer', old, str(images)))
    assert line == (f'Error: Mask file {old!r} records no classifier (it '
                    'predates mask files that do): give the config it was '
                    'trained with as well.')
    output = succeeded(run_tool('infer', tiny_world.config, old,
                                str(images)))
    assert '9 classified, 0 skipped' in output


@pytest.mark.parametrize('content', [None, b'', b'not masks\n'])
def test_a_mask_file_that_does_not_load_is_refused_naming_it(
        content, images, tmp_path):
    path = tmp_path / 'masks.pth'
    if content is not None:
        path.write_bytes(content)
    line = refusal(run_tool('infer', str(path), str(images)))
    assert repr(str(path)) in line


def test_the_header_names_the_classes_shown():
    result = dict(input='x.png', pred_class='b', pred_score=0.75,
                  pred_scores=np.array([0.25, 0.75]))
    for topk, header in ((5, 'top-2'), (2, 'top-2'), (1, 'top-1')):
        table = format_table([result], ('a', 'b'), topk)
        assert table.splitlines()[0].split()[-1] == header
    assert table.splitlines()[1].split()[-2:] == ['b', '0.75']
