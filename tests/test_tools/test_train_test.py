"""End to end: tools/train.py then tools/test.py, as a user runs them."""
import json
import os
import re
import sys
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from rmt_testing import (REPO, TINY_VIT, load_tool, make_image_folder,
                         run_tool, save_random_weights, write_tiny_config)

from rmt_mm.fileio import load_mask_file
from rmt_mm.runs.launch import apply_selection_args
from rmt_mm.runs.test import TestProgressBar


def tool(name: str, *args: str) -> str:
    """Runs tools/<name>.py in-process; its output, which must end well."""
    code, output = run_tool(name, *args)
    assert code == 0, output[-6000:]
    return output


def open_clip_accuracy(config: str, weights: str, masks: dict,
                       subsample: str) -> tuple:
    """Top-1 accuracy (%) on the config's test set of plain open_clip with
    the mask bits folded into its weights here (images through the
    config's pipeline, normalised as ClsDataPreprocessor does), and the
    share (%) of near ties that tools/test.py may decide otherwise.

    tools/test.py batches the images and runs the masked encoder, here one
    image at a time through plain open_clip: cosines ~1e-7 apart. An image
    whose top two cosines are within 1e-5 (none here: the closest are 0.08
    apart, but the masks of a trained run differ by CPU) may go either way.
    """
    import open_clip
    from mmengine.config import Config
    from mmpretrain.registry import DATASETS
    cfg = Config.fromfile(config)
    dataset = DATASETS.build(
        dict(cfg.test_dataloader.dataset, subsample=subsample))
    clip = open_clip.CLIP(**TINY_VIT).eval()
    open_clip.load_checkpoint(clip, weights)
    state = clip.state_dict()
    clip.load_state_dict({k: v * masks[k] if k in masks else v
                          for k, v in state.items()})
    tokenizer = open_clip.SimpleTokenizer(context_length=16)
    templates = dataset.metainfo.get('templates', ('a photo of a {}.', ))
    mean = torch.tensor(cfg.model.data_preprocessor.mean).view(3, 1, 1)
    std = torch.tensor(cfg.model.data_preprocessor.std).view(3, 1, 1)
    with torch.no_grad():
        text = torch.stack([F.normalize(F.normalize(clip.encode_text(
            tokenizer([t.format(c.replace('_', ' ').lower())
                       for t in templates])), dim=-1).mean(0), dim=-1)
            for c in dataset.metainfo['classes']])
        correct = near_ties = 0
        for i in range(len(dataset)):
            item = dataset[i]
            image = (item['inputs'].float().flip(0) - mean) / std  # BGR
            features = F.normalize(clip.encode_image(image[None]), dim=-1)
            cosines = (features @ text.t())[0]
            correct += int(cosines.argmax() == item['data_samples'].gt_label)
            top = cosines.topk(2).values
            near_ties += int(top[0] - top[1] < 1e-5)
    return 100 * correct / len(dataset), 100 * near_ties / len(dataset)


def test_train_then_test_from_the_mask_file(tmp_path):
    data = make_image_folder(str(tmp_path / 'data'),
                             classes=('cat', 'dog', 'bird', 'fish'))
    weights = save_random_weights(TINY_VIT, str(tmp_path / 'clip.pt'))
    base = write_tiny_config(str(tmp_path / 'base.py'), data,
                             subsample='base')
    config = str(tmp_path / 'tiny.py')
    with open(config, 'w') as f:
        f.write(f'_base_ = [{base!r}]\n'
                f'model = dict(backbone=dict(pretrained={weights!r}))\n')
    work = str(tmp_path / 'work')
    log = tool('train', config, '--work-dir', work)
    for key in ('loss_ce', 'loss_sparsity', 'reg_distill', 'grad_dropped',
                'sparsity'):
        assert f'{key}: ' in log, key

    # The run keeps a copy of the few-shot subset it trained on.
    record = json.load(open(os.path.join(work, 'fewshot_split.json')))
    cache = os.path.join(data, 'split_fewshot', 'shot_4-seed_1.json')
    assert record == json.load(open(cache))

    masks, meta = load_mask_file(os.path.join(work, 'masks_final.pth'))
    # lr 1e-2 for 3 epochs flips some masks (46% here: a wide margin).
    assert meta['sparsity'] > 0
    assert len(masks) == 5
    # Resume checkpoints hold the scores, not the frozen CLIP.
    checkpoint = torch.load(os.path.join(work, 'epoch_3.pth'),
                            weights_only=False)
    assert all('masks.scores.' in k for k in checkpoint['state_dict'])

    results = {}
    for name, extra in [
        ('zero_shot', []),
        ('base', [os.path.join(work, 'masks_final.pth')]),
        ('resume_file', [os.path.join(work, 'epoch_3.pth')]),
        ('new', [os.path.join(work, 'masks_final.pth'), '--cfg-options',
                 'test_dataloader.dataset.subsample=new']),
    ]:
        out = str(tmp_path / f'{name}.json')
        tool('test', config, *extra, '--work-dir', work, '--out', out)
        results[name] = json.load(open(out))['accuracy/top1']
    # Exact: the mask file holds the checkpoint's scores > threshold, so
    # both fold the same weights and run the same kernels.
    assert results['base'] == results['resume_file']
    # tools/test.py against plain open_clip with the bits folded by hand.
    expected = {
        'zero_shot': open_clip_accuracy(config, weights, {}, 'base'),
        'base': open_clip_accuracy(config, weights, masks, 'base'),
        'new': open_clip_accuracy(config, weights, masks, 'new')}
    # mmpretrain computes k * (100 / n) in float32 (4 of 6 gives
    # 66.666664): up to ~1e-5 off the float64 value here, so abs=1e-4, far
    # below one image (100 / 6); plus one image per near tie.
    for name, (accuracy, near_ties) in expected.items():
        assert results[name] == pytest.approx(
            accuracy, abs=1e-4 + near_ties), name


def test_config_without_dataset_is_rejected(tmp_path, monkeypatch):
    config = tmp_path / 'empty.py'
    config.write_text(f"_base_ = ['{REPO}/configs/_base_/default_runtime.py',"
                      f" '{REPO}/configs/_base_/models/rmt_vitb16.py']\n")
    monkeypatch.setattr(sys, 'argv', ['train.py', str(config)])
    with pytest.raises(ValueError, match='no train_dataloader.dataset'):
        load_tool('train').main()


@pytest.mark.parametrize('lam', ['1.5', '-1'])
def test_lambda_outside_unit_interval_is_rejected(tmp_path, monkeypatch,
                                                  lam):
    config = write_tiny_config(str(tmp_path / 'tiny.py'), str(tmp_path))
    monkeypatch.setattr(sys, 'argv', [
        'train.py', config, '--cfg-options', f'optim_wrapper.lam={lam}'])
    with pytest.raises(ValueError,
                       match=r'lambda must be a number in \[0, 1\]'):
        load_tool('train').main()


def test_importance_selection_is_evaluated_and_exported_from_its_config(
        tmp_path):
    """A config with explicit mask_targets trained with --select importance
    (as README shows on the demo): tools/test.py and tools/export.py take
    the run's own dumped config and the mask file and rebuild the selected
    masks, not the config's mask_targets."""
    data = make_image_folder(str(tmp_path / 'data'))
    base = write_tiny_config(str(tmp_path / 'tiny.py'), data, epochs=1)
    config = tmp_path / 'attn_only.py'
    config.write_text(
        f"_base_ = [{base!r}]\n"
        "model = dict(backbone=dict(mask_targets=["
        "'visual.transformer.resblocks.*.attn.in_proj_weight']))\n")
    work = str(tmp_path / 'work')
    tool('train', str(config), '--work-dir', work, '--select', 'importance',
         '--top-k', '2')
    record = json.load(open(os.path.join(work, 'mask_selection.json')))
    assert sum(g['selected'] for g in record['groups']) == 2
    mask_file = os.path.join(work, 'masks_final.pth')
    masks, meta = load_mask_file(mask_file)
    assert list(masks) == record['selected_names']
    assert meta['selection']['mode'] == 'importance'
    assert meta['selection']['top_k'] == 2

    dumped = os.path.join(work, 'attn_only.py')
    accuracy = {}
    for name, checkpoint in (('mask_file', mask_file),
                             ('resume', os.path.join(work, 'epoch_1.pth'))):
        out = str(tmp_path / f'{name}.json')
        tool('test', dumped, checkpoint, '--work-dir', work, '--out', out)
        accuracy[name] = json.load(open(out))['accuracy/top1']
    # Exact: the same hard masks, the same kernels and data.
    assert accuracy['mask_file'] == accuracy['resume']

    exported = torch.load(load_tool('export').main(
        [dumped, mask_file, '--out', str(tmp_path / 'clip.pt')]))
    # Exact: W * 0.0 is zero, W * 1.0 is W (random weights are never 0).
    for name, keep in masks.items():
        assert torch.equal(exported[name] != 0, keep), name


def test_select_needs_the_parameter_selector_hook(tmp_path):
    from mmengine.config import Config
    config = Config(dict(custom_hooks=[dict(type='RMTMaskFileHook')]))
    args = SimpleNamespace(select='importance', top_k=2, param_budget=None)
    with pytest.raises(ValueError, match='exactly one RMTParameterSelector'):
        apply_selection_args(config, args)


def test_test_shows_a_progress_bar_of_its_batches(trained_run, tiny_world,
                                                  tmp_path):
    masks = str(trained_run.work_dir / 'masks_final.pth')
    output = tool('test', tiny_world.config, masks, '--work-dir',
                  str(tmp_path), '--cfg-options',
                  'test_dataloader.batch_size=4')
    # 9 test images in batches of 4: the bar counts to 3, then a new line.
    updates = re.findall(r'\] (\d+)/(\d+)', output)
    assert updates == [('0', '3'), ('1', '3'), ('2', '3'), ('3', '3')]
    assert re.search(r'\] 3/3, .*\n', output)


def test_test_says_what_shots_changes(monkeypatch):
    monkeypatch.setenv('COLUMNS', '1000')  # no words split at hyphens
    help_text = ' '.join(tool('test', '--help').split())
    assert ('--shots K images per class of the training subset that a '
            'Tip-Adapter cache is built from when the checkpoint holds '
            'none ' in help_text)
    assert 'the test split is always evaluated whole' in help_text
    assert 'low-shot schedule' not in help_text


def test_a_test_stopped_midway_ends_the_bar_line(capsys):
    progress = TestProgressBar()
    progress.before_test_epoch(SimpleNamespace(test_dataloader=[1, 2, 3]))
    progress.after_test_iter(None, 0)
    progress.close()  # what main() does when runner.test() raises
    err = capsys.readouterr().err
    assert re.search(r'\] 1/3, [^\n]*\n$', err), err
    progress.close()  # once
    assert capsys.readouterr().err == ''
