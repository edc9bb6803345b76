"""RMTTaskServer: one CLIP, many tasks, results equal to single-task
models bit for bit, and clear refusals."""
import os
import shutil

import pytest
import torch
from rmt_testing import (TINY_RESNET, TINY_VIT, random_mask_file,
                         save_random_weights)

from rmt_mm.apis import RMTInferencer, RMTTaskServer
from rmt_mm.models import MaskedCLIP


@pytest.fixture(scope='module')
def server(tiny):
    server = RMTTaskServer.from_config(tiny['config'],
                                       cfg_options=tiny['options'])
    for i, masks in enumerate(tiny['masks']):
        server.add_task(f'task{i}', masks)
    server.add_task('zero-shot')
    return server


def test_every_task_equals_its_own_model_bit_for_bit(tiny, server):
    folder = os.path.join(tiny['data'], 'test')
    alone = {
        'task0': RMTInferencer(tiny['config'], tiny['masks'][0],
                               cfg_options=tiny['options']),
        'task1': RMTInferencer(tiny['config'], tiny['masks'][1],
                               cfg_options=tiny['options']),
        'zero-shot': RMTInferencer(tiny['config'],
                                   cfg_options=tiny['options']),
    }
    expected = {name: inferencer(folder)
                for name, inferencer in alone.items()}
    # Alternate, revisit and repeat tasks: the in-place switch must restore
    # exactly what the previous task dropped.
    for name in ['task0', 'task1', 'zero-shot', 'task1', 'task0', 'task0',
                 'zero-shot', 'task1']:
        got = server.predict(folder, task=name)
        assert server.active_task == name
        assert [r['input'] for r in got] == [
            r['input'] for r in expected[name]]
        # Exact by construction: both fold W * mask (the same values; a
        # switch restores copies), then run the same kernels on the same
        # batches in this process.
        for a, b in zip(got, expected[name]):
            assert torch.equal(torch.from_numpy(a['pred_scores']),
                               torch.from_numpy(b['pred_scores'])), name
    task = server.task('task0')
    # A ratio of integer counts from seeded draws (drop 0.25 of 14336
    # entries: 0.05 is ~14 sigma); zero-shot drops none, exactly 0.
    assert 0.2 < task.sparsity < 0.3
    assert server.task('zero-shot').sparsity == 0


def test_switch_moves_only_dropped_entries_and_restores(tiny, server):
    server.switch('task0')
    plain = MaskedCLIP(arch=TINY_VIT, pretrained=tiny['weights'])
    plain.load_masks(tiny['masks'][0])
    folded = plain.export_state_dict()
    # Exact: W * 1.0 / W * 0.0 folded with the same op; restoring copies.
    for name, param in server.backbone.clip.named_parameters():
        assert torch.equal(param, folded[name]), name
    server.remove_task('task0')
    # Removing the active task leaves plain CLIP.
    plain_weights = dict(plain.clip.named_parameters())
    for name, param in server.backbone.clip.named_parameters():
        assert torch.equal(param, plain_weights[name]), name
    server.add_task('task0', tiny['masks'][0])


def test_adding_tasks_never_rebuilds_clip(tiny, server, monkeypatch):
    import rmt_mm.models.masked_clip as masked_clip

    def fail(*args, **kwargs):
        raise AssertionError('CLIP was rebuilt')

    monkeypatch.setattr(masked_clip, 'build_open_clip', fail)
    task = server.add_task('animals', tiny['masks'][1],
                           classnames=['cat', 'dog', 'horse', 'cow'])
    assert task.text_features.shape == (4, TINY_VIT['embed_dim'])
    assert task.nbytes < 8 * 1024  # bits + text features, tiny model
    assert server.predict(
        os.path.join(tiny['data'], 'test', 'cat', '000.png'),
        task='animals')[0]['pred_class'] in task.classnames
    server.remove_task('animals')


def test_adding_a_task_while_another_is_active(tiny, server):
    """The weight-fingerprint check reads the plain weights even while the
    active task's masks are folded into them."""
    image = os.path.join(tiny['data'], 'test', 'cat', '000.png')
    expected = server.predict(image, task='task0')[0]['pred_scores']
    server.backbone._fingerprints.clear()  # as for a mask set not seen yet
    server.add_task('late', tiny['masks'][1])
    assert server.active_task == 'task0'
    got = server.predict(image, task='task0')[0]['pred_scores']
    # Exact: the same weights, kernels and input in this process.
    assert torch.equal(torch.from_numpy(got), torch.from_numpy(expected))
    server.remove_task('late')


def test_bad_requests_get_clear_errors_and_the_server_keeps_serving(
        tiny, server, tmp_path):
    image = os.path.join(tiny['data'], 'test', 'cat', '000.png')
    with pytest.raises(KeyError, match="Unknown task 'nope'.*task0"):
        server.predict(image, task='nope')
    with pytest.raises(ValueError, match='non-empty list'):
        server.add_task('empty', classnames=[])
    with pytest.raises(ValueError, match='exists'):
        server.add_task('task1')
    resnet = MaskedCLIP(arch=TINY_RESNET)
    other_arch = random_mask_file(resnet, str(tmp_path / 'rn.pth'), seed=0)
    with pytest.raises(ValueError, match='arch='):
        server.add_task('resnet', other_arch)
    other = save_random_weights(TINY_VIT, str(tmp_path / 'other.pt'),
                                seed=5)
    other_weights = random_mask_file(
        MaskedCLIP(arch=TINY_VIT, pretrained=other),
        str(tmp_path / 'other_masks.pth'), seed=0)
    with pytest.raises(ValueError, match='pretrained='):
        server.add_task('other', other_weights)
    # The same weights copied elsewhere are the same source.
    copy = shutil.copy(tiny['weights'], tmp_path / 'copy.pt')
    server.add_task('copied', random_mask_file(
        MaskedCLIP(arch=TINY_VIT, pretrained=str(copy)),
        str(tmp_path / 'copied.pth'), seed=0))
    server.remove_task('copied')
    bad = tmp_path / 'bad.png'
    bad.write_text('no image')
    with pytest.raises(ValueError, match='not a readable image'):
        server.predict(str(bad), task='task1')
    assert set(server.tasks) == {'task0', 'task1', 'zero-shot'}
    assert server.predict(image, task='task1')[0]['pred_class']
