"""RMTInferencer: inputs of every kind, per-file errors, and predictions
equal to tools/test.py's on the demo model."""
import itertools
import os
import shutil
import sys

import mmengine
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image
from rmt_testing import DEMO_CONFIG, load_tool, random_mask_file

from rmt_mm.apis import ImageInputError, RMTInferencer
from rmt_mm.fileio.config_file import read_config
from rmt_mm.models import MaskedCLIP
from rmt_mm.runs import demo
from rmt_mm.runs.test import merge_args

# Scores computed in other batches (other sizes or positions) may differ in
# the last bits: float32 cosines ~1e-7 apart, times the logit scale 14.3,
# move a softmax score by up to ~4e-7 (1.8e-7 seen). SCORE_ATOL = 1e-5 leaves
# margin on other CPUs; a real fault (channels swapped, another resize)
# moves scores by ~0.1.
SCORE_ATOL = 1e-5


def test_predictions_equal_tools_test_on_the_demo_model(tmp_path,
                                                        digits_world,
                                                        monkeypatch):
    # The demo's layout with 3 images per class keeps the test fast.
    data = str(tmp_path / 'data')
    for split, name in itertools.product(('train', 'test'), demo.DIGITS):
        source = os.path.join(digits_world.data, split, name)
        folder = os.path.join(data, split, name)
        os.makedirs(folder)
        for file in sorted(os.listdir(source))[:3]:
            shutil.copy(os.path.join(source, file), folder)
    weights = digits_world.weights
    arch = Config.fromfile(DEMO_CONFIG).model.backbone
    clip = MaskedCLIP(arch=arch.arch.to_dict(), pretrained=weights,
                      mask_targets=list(arch.mask_targets))
    masks = random_mask_file(clip, str(tmp_path / 'masks.pth'), seed=3,
                             drop=0.3)
    options = [f'test_dataloader.dataset.data_root={data}',
               f'model.backbone.pretrained={weights}']

    test_tool = load_tool('test')
    monkeypatch.setattr(sys, 'argv', [
        'test.py', DEMO_CONFIG, masks, '--work-dir', str(tmp_path / 'work'),
        '--cfg-options', *options])
    args = test_tool.parse_args()
    cfg = merge_args(read_config(args.config), args)
    dump = str(tmp_path / 'test_py.pkl')
    cfg.test_evaluator = [dict(type='Accuracy', topk=(1, )),
                          dict(type='DumpResults', out_file_path=dump)]
    Runner.from_cfg(cfg).test()
    expected = {r['img_path']: (int(r['pred_label']), r['pred_score'])
                for r in mmengine.load(dump)}

    inferencer = RMTInferencer(
        DEMO_CONFIG, masks,
        cfg_options=dict(o.split('=', 1) for o in options))
    assert sorted(inferencer.classnames) == sorted(demo.DIGITS)
    results = inferencer(os.path.join(data, 'test'), batch_size=64)
    assert len(results) == len(expected) == 30
    labels = [r['pred_label'] for r in results]
    assert len(set(labels)) > 1  # random masks: a non-trivial comparison
    # Labels: the top two scores of every image are >= 0.003 apart here
    # (seeded data, weights and masks), far above float noise, so the
    # argmax is the same on any CPU.
    for result in results:
        label, score = expected[result['input']]
        assert result['pred_label'] == label
        assert result['pred_class'] == inferencer.classnames[label]
        np.testing.assert_allclose(result['pred_scores'], score,
                                   atol=SCORE_ATOL)


@pytest.fixture(scope='module')
def inferencer(tiny):
    return RMTInferencer(tiny['config'], tiny['masks'][0],
                         cfg_options=tiny['options'])


def test_paths_arrays_and_pil_images_agree(tiny, inferencer):
    path = os.path.join(tiny['data'], 'test', 'cat', '000.png')
    rgb = np.asarray(Image.open(path).convert('RGB'))
    from_path, from_array, from_pil = inferencer(
        [path, rgb, Image.fromarray(rgb)])
    assert (from_path['input'], from_array['input'],
            from_pil['input']) == (path, 1, 2)
    # The same pixels at other positions of one batch: exact on this CPU,
    # but a GEMM may treat a batch's tail rows otherwise on another, so
    # SCORE_ATOL (swapping the channels moves these scores by 0.12).
    for other in (from_array, from_pil):
        np.testing.assert_allclose(other['pred_scores'],
                                   from_path['pred_scores'], rtol=0,
                                   atol=SCORE_ATOL)
    assert from_path['pred_scores'].shape == (3, )
    # A float32 softmax of 3 classes sums to 1 within a few ulp: abs=1e-5
    # leaves margin. pred_score is a copy of the largest score (exact).
    assert from_path['pred_scores'].sum() == pytest.approx(1, abs=1e-5)
    assert from_path['pred_score'] == from_path['pred_scores'].max()
    assert inferencer.classnames[from_path['pred_label']] == \
        from_path['pred_class']


def test_batch_size_does_not_change_scores(tiny, inferencer):
    folder = os.path.join(tiny['data'], 'test')
    one = inferencer(folder, batch_size=1)
    many = inferencer(folder, batch_size=4)
    assert [r['input'] for r in one] == [r['input'] for r in many]
    for a, b in zip(one, many):
        np.testing.assert_allclose(a['pred_scores'], b['pred_scores'],
                                   atol=SCORE_ATOL)


def test_bad_files_in_a_folder_are_reported_and_skipped(tiny, inferencer,
                                                        tmp_path):
    folder = tmp_path / 'mixed'
    folder.mkdir()
    good = os.path.join(tiny['data'], 'test', 'dog', '000.png')
    Image.open(good).save(folder / 'a.png')
    (folder / 'notes.txt').write_text('not an image')
    (folder / 'broken.png').write_bytes(open(good, 'rb').read()[:60])
    Image.open(good).save(folder / 'z.png')
    results = inferencer(str(folder))
    assert [os.path.basename(r['input']) for r in results] == ['a.png',
                                                               'z.png']
    skipped = {os.path.basename(n): reason
               for n, reason in inferencer.skipped}
    assert set(skipped) == {'notes.txt', 'broken.png'}
    assert 'not a readable image' in skipped['notes.txt']


def test_huge_images_and_bad_arrays_get_clear_errors(tiny, tmp_path):
    small = RMTInferencer(tiny['config'], cfg_options=tiny['options'],
                          max_pixels=1000)
    path = os.path.join(tiny['data'], 'test', 'dog', '000.png')  # 40 x 40
    assert small(path) == []
    assert 'above the limit' in small.skipped[0][1]
    with pytest.raises(ImageInputError, match='above the limit'):
        small.preparer.load(np.zeros((50, 50, 3), np.uint8))
    with pytest.raises(ImageInputError, match='uint8'):
        small.preparer.load(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(FileNotFoundError, match='neither a file'):
        small(str(tmp_path / 'missing.png'))


def test_zero_shot_and_open_vocabulary(tiny, inferencer):
    path = os.path.join(tiny['data'], 'test', 'cat', '000.png')
    zero_shot = RMTInferencer(tiny['config'], cfg_options=tiny['options'])
    # Masks dropping a quarter of the weights move the scores by far more
    # than rounding.
    assert not torch.equal(
        torch.from_numpy(zero_shot(path)[0]['pred_scores']),
        torch.from_numpy(inferencer(path)[0]['pred_scores']))
    free = RMTInferencer(tiny['config'], tiny['masks'][0],
                         classnames=['zebra', ' red fox ', 'cat', 'car'],
                         cfg_options=tiny['options'])
    assert free.classnames == ('zebra', 'red fox', 'cat', 'car')
    assert free(path)[0]['pred_scores'].shape == (4, )
    with pytest.raises(ValueError, match='non-empty list'):
        RMTInferencer(tiny['config'], classnames=[],
                      cfg_options=tiny['options'])
