"""The faults of issue 22, each injected as a user (or a disk) would cause
it, against the repaired behaviour. The case numbers are the issue's; case
1 (threads calling the task server) is in
tests/test_apis/test_task_server_threads.py, with the small task-server
refusals of case 10."""
import errno
import json
import os
import os.path as osp
import shutil
import socket
import struct
import sys
import threading
import zlib

import pytest
import torch
from rmt_testing import (REPO, TINY_VIT, load_tool, make_image_folder, refusal,
                         run_tool, save_random_weights, succeeded,
                         write_tiny_config)

from rmt_mm.apis import app
from rmt_mm.engine.hooks.checkpoint_hook import WEIGHTS_RECORD
from rmt_mm.engine.hooks.parameter_selector import ParameterSelector
from rmt_mm.fileio import FileRefusedError
from rmt_mm.fileio.resume_checkpoint import (load_resume_checkpoint,
                                             to_plain_checkpoint)
from rmt_mm.models import MaskedCLIP
from rmt_mm.runs import sweep
from rmt_mm.runs.collect import collect
from rmt_mm.runs.experiments import metrics_path, run_dir
from rmt_mm.runs.refusals import DEBUG_VARIABLE

DTD = osp.join(REPO, 'configs', 'rmt', 'rmt_vitb16_dtd_16shot.py')
IMAGENET = osp.join(REPO, 'configs', 'rmt', 'rmt_vitb16_imagenet_16shot.py')


@pytest.fixture
def other_weights(tmp_path):
    """Random tiny-CLIP weights other than the tiny world's."""
    return save_random_weights(TINY_VIT, str(tmp_path / 'other.pt'), seed=1)


# ------------------------------------------------- 2. epoch checkpoints
def test_case2_checkpoints_refuse_other_weights(trained_run, tiny_world,
                                                other_weights, tmp_path):
    checkpoint = str(trained_run.work_dir / 'epoch_3.pth')
    test = ['test', tiny_world.config, checkpoint, '--work-dir',
            str(tmp_path / 'test'), '--cfg-options',
            f'model.backbone.pretrained={other_weights}']
    line = refusal(run_tool(*test))
    assert line.startswith(f'Error: Checkpoint {checkpoint!r} was learned '
                           "on other weights than this model's")
    assert line.endswith('--allow-other-weights (tools/test.py, '
                         'tools/train.py) to apply it anyway.')
    output = succeeded(run_tool(*test, '--allow-other-weights'))
    assert 'Applied anyway (allow_other_weights)' in output

    # --resume (and so load_from) on other weights: refused before the
    # run could write a mask file with the new weights' fingerprint.
    work = tmp_path / 'resume'
    work.mkdir()
    shutil.copy(trained_run.work_dir / 'epoch_2.pth', work)
    line = refusal(run_tool(
        'train', tiny_world.config, '--work-dir', str(work), '--resume',
        '--cfg-options', f'model.backbone.pretrained={other_weights}'))
    assert f"Checkpoint '{work / 'epoch_2.pth'}' was learned" in line
    assert not (work / 'masks_final.pth').exists()


def test_case2_checkpoints_record_their_weights(trained_run, tiny_world,
                                                tmp_path):
    checkpoint = load_resume_checkpoint(
        str(trained_run.work_dir / 'epoch_3.pth'))
    record = checkpoint['meta'][WEIGHTS_RECORD]
    # The fingerprint is the masked weights' of the run's own CLIP.
    clip = MaskedCLIP(arch=TINY_VIT, pretrained=tiny_world.weights)
    assert record == dict(
        pretrained=tiny_world.weights,
        mask_names=clip.mask_names,
        weights_fingerprint=clip.weights_fingerprint(clip.mask_names))
    # A checkpoint from before the record loads, with a warning.
    del checkpoint['meta'][WEIGHTS_RECORD]
    to_plain_checkpoint(checkpoint)
    old = str(tmp_path / 'epoch_old.pth')
    torch.save(checkpoint, old)
    output = succeeded(run_tool('test', tiny_world.config, old,
                                '--work-dir', str(tmp_path / 'test')))
    assert (f'Checkpoint {old!r} records no fingerprint of its weights'
            in output)


# ----------------------------------------- 3. tools/infer.py mask files
def test_case3_infer_refuses_a_damaged_mask_file(trained_run, tiny_world,
                                                 tmp_path):
    masks = str(trained_run.work_dir / 'masks_final.pth')
    images = osp.join(tiny_world.data, 'test')
    content = open(masks, 'rb').read()
    damaged = {
        'trunc_masks.pth': content[:len(content) // 2],
        'empty_masks.pth': b'',
        'text_masks.pth': b'these are not masks\n',
    }
    for name, data in damaged.items():
        path = tmp_path / name
        path.write_bytes(data)
        line = refusal(run_tool('infer', tiny_world.config, str(path),
                                images))
        assert repr(str(path)) in line, line
    # A mask file in PyTorch's legacy (non-zip) format is used, not
    # skipped: the same table as the zip file's, nothing left out.
    legacy = str(tmp_path / 'legacy_masks.pth')
    torch.save(torch.load(masks, weights_only=True), legacy,
               _use_new_zipfile_serialization=False)
    outputs = [succeeded(run_tool('infer', tiny_world.config, *args))
               for args in ((masks, images), (legacy, images),
                            (images, '--masks', masks))]
    rows = [[line for line in output.splitlines()
             if line.startswith(images)] for output in outputs]
    assert len(rows[0]) == 9 and rows[0] == rows[1] == rows[2]
    assert '9 classified, 0 skipped' in outputs[1]


# ------------------------------------------- 4. --resume of a finished run
def test_case4_resume_never_restarts_a_finished_run(trained_run, tiny_world,
                                                    tmp_path):
    work = tmp_path / 'finished'
    work.mkdir()
    for name in ('masks_final.pth', 'last_checkpoint'):
        shutil.copy(trained_run.work_dir / name, work)
    final = (work / 'masks_final.pth').read_bytes()
    line = refusal(run_tool('train', tiny_world.config, '--work-dir',
                            str(work), '--resume'))
    assert 'holds the final masks of a finished run (masks_final.pth)' in line
    assert 'start over at epoch 0' in line
    line = refusal(run_tool('train', tiny_world.config, '--work-dir',
                            str(work)))
    assert 'a new run would overwrite them' in line
    assert (work / 'masks_final.pth').read_bytes() == final


# ------------------------------------------ 5. FIFOs in an input folder
def test_case5_a_fifo_in_an_input_folder_is_skipped(tiny_world, tmp_path):
    folder = tmp_path / 'inputs'
    folder.mkdir()
    shutil.copy(osp.join(tiny_world.data, 'test', 'cat', '000.png'), folder)
    os.mkfifo(folder / 'pipe.png')
    result = {}
    inferring = threading.Thread(target=lambda: result.update(
        run=run_tool('infer', tiny_world.config, str(folder))), daemon=True)
    inferring.start()
    inferring.join(timeout=120)
    if inferring.is_alive():
        # Blocked opening the FIFO: a writer that closes at once lets it
        # read an empty file and end, so that the session goes on.
        os.close(os.open(folder / 'pipe.png', os.O_WRONLY | os.O_NONBLOCK))
        inferring.join()
        pytest.fail('tools/infer.py blocked on the FIFO')
    code, output = result['run']
    assert code == 0, output[-3000:]
    assert (f"skipped {folder / 'pipe.png'}: a FIFO (named pipe), not an "
            'image file' in output)
    assert '1 classified, 1 skipped' in output


# ----------------------------------------------- 6. bad uploads on the page
def png_header(path, width: int, height: int) -> str:
    """A PNG file that only claims its size (a decompression bomb's
    header, without the pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack('>I', len(data)) + kind + data +
                struct.pack('>I', zlib.crc32(kind + data)))

    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(
        b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)) +
        chunk(b'IDAT', zlib.compress(b'')) + chunk(b'IEND', b''))
    return str(path)


def test_case6_every_bad_upload_gets_a_reason(tiny_world, tmp_path):
    pytest.importorskip('gradio', reason='Gradio is an optional extra')
    from gradio_client import Client, handle_file
    server = app.build_server(tiny_world.config, [])
    page = app.build_page(server)
    good = osp.join(tiny_world.data, 'test', 'cat', '000.png')
    text = tmp_path / 'notes.png'
    text.write_text('not an image')
    truncated = tmp_path / 'truncated.png'
    truncated.write_bytes(open(good, 'rb').read()[:200])
    uploads = {
        str(text): 'not a readable image',
        str(truncated): 'could not be decoded',
        png_header(tmp_path / 'bomb.png', 20000, 20000):
            'too large to open safely',
        png_header(tmp_path / 'big.png', 9000, 9000): 'above the limit',
    }
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    page.launch(server_name='127.0.0.1', server_port=port,
                prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f'http://127.0.0.1:{port}/', verbose=False)
        for path, reason in uploads.items():
            with pytest.raises(Exception) as error:
                client.predict(handle_file(path), app.ZERO_SHOT, '',
                               api_name='/classify')
            name = osp.basename(path)
            assert f'Cannot classify {name}: ' in str(error.value), path
            assert reason in str(error.value), path
        label, _ = client.predict(handle_file(good), app.ZERO_SHOT, '',
                                  api_name='/classify')
    finally:
        page.close()
    assert label['label'] in ('cat', 'dog', 'bird')


# ---------------------------------------------------------- 7. side files
def test_case7_damaged_side_files_are_named(trained_run, tiny_world,
                                            tmp_path):
    # An empty mask_selection.json in a run that resumes.
    work = tmp_path / 'resume'
    work.mkdir()
    shutil.copy(trained_run.work_dir / 'epoch_2.pth', work)
    (work / 'mask_selection.json').write_text('')
    line = refusal(run_tool('train', tiny_world.config, '--work-dir',
                            str(work), '--resume'))
    assert line.startswith(
        f"Error: '{work / 'mask_selection.json'}' is damaged: it is empty.")

    # A corrupt few-shot cache of the data folder.
    data = make_image_folder(str(tmp_path / 'data'))
    config = write_tiny_config(str(tmp_path / 'tiny.py'), data)
    cache = osp.join(data, 'split_fewshot', 'shot_4-seed_1.json')
    os.makedirs(osp.dirname(cache))
    with open(cache, 'w') as f:
        f.write('{"train": ["train/cat/000.png", ')
    line = refusal(run_tool('train', config, '--work-dir',
                            str(tmp_path / 'work'), '--cfg-options',
                            f'model.backbone.pretrained={tiny_world.weights}'))
    assert f'{cache!r} is damaged: it is not valid JSON' in line
    assert line.endswith('Delete it to draw the subset again (the same '
                         'seed draws the same images).')

    # A corrupt sweep_settings.json: every later sweep ends in one line.
    folder = run_dir(str(tmp_path / 'sweep'), 'dtd', 16, 1)
    os.makedirs(folder)
    with open(metrics_path(folder), 'w') as f:
        json.dump({'accuracy/top1': 50.0}, f)
    settings = osp.join(folder, 'sweep_settings.json')
    with open(settings, 'w') as f:
        f.write('{"metrics.json": [')
    line = refusal(run_tool('sweep', '--configs', f'dtd={DTD}', '--shots',
                            '16', '--seeds', '1', '--work-root',
                            str(tmp_path / 'sweep'), '--dry-run'))
    assert line.startswith(f'Error: {settings!r} is damaged: it is not '
                           'valid JSON')


def test_case7_side_files_are_written_atomically(tmp_path, monkeypatch):
    folder = str(tmp_path)
    step = sweep.Step('test', ['tools/test.py', 'a.py'],
                      osp.join(folder, 'metrics.json'))
    sweep.record_settings(step, folder)
    settings = osp.join(folder, sweep.SETTINGS_FILE)
    before = open(settings).read()
    selection = osp.join(folder, 'mask_selection.json')
    with open(selection, 'w') as f:
        f.write('{"mode": "fixed"}')

    def full_disk(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', full_disk)
    step.cmd.append('--other')
    with pytest.raises(OSError, match='No space left'):
        sweep.record_settings(step, folder)
    clip = MaskedCLIP(arch=TINY_VIT)
    with pytest.raises(OSError, match='No space left'):
        ParameterSelector._report(
            dict(mode='importance', groups=[]), clip, selection)
    # Each file is the old one, whole; no temporary file is left.
    assert open(settings).read() == before
    assert open(selection).read() == '{"mode": "fixed"}'
    assert sorted(os.listdir(folder)) == ['mask_selection.json',
                                          'sweep_settings.json']


# ---------------------------------------------------- 8. sweep metrics
def test_case8_the_sweep_reruns_broken_metrics(tmp_path, capsys):
    sweep_cli = load_tool('sweep')
    root = str(tmp_path / 'sweep')
    broken = {1: '', 2: '{"accuracy/top1": NaN}', 3: '{"accuracy/to'}
    for seed, text in broken.items():
        folder = run_dir(root, 'dtd', 16, seed)
        os.makedirs(folder)
        open(osp.join(folder, 'masks_final.pth'), 'wb').close()
        with open(metrics_path(folder), 'w') as f:
            f.write(text)
    assert sweep_cli.main(['--configs', f'dtd={DTD}', '--shots', '16',
                           '--seeds', '1', '2', '3', '--work-root', root,
                           '--dry-run']) == 0
    out = capsys.readouterr().out
    assert '3 run(s): 0 finished, 3 to do.' in out
    files = {seed: metrics_path(run_dir(root, 'dtd', 16, seed))
             for seed in broken}
    assert f"{files[1]!r} is damaged: it is empty." in out
    assert f"{files[2]!r} holds accuracy/top1=nan, not a finite number" in out
    assert f"{files[3]!r} is damaged: it is not valid JSON" in out
    assert out.count('Testing again.') == 3
    # A test that "succeeds" with a non-finite metric has failed.
    nan_test = sweep.Step(
        'test', [sys.executable, '-c',
                 f'open({files[2]!r}, "w").write(\'{{"a": NaN}}\')'],
        files[2])
    assert sweep.execute([sweep.Run('nan', str(tmp_path), [nan_test])],
                         fail_fast=True) == ['nan']


def test_case8_collect_marks_cells_with_fewer_seeds(tmp_path):
    root = str(tmp_path / 'sweep')
    for seed, text in ((1, '{"accuracy/top1": 50.0}'),
                       (2, '{"accuracy/top1": NaN}')):
        path = metrics_path(run_dir(root, 'dtd', 16, seed))
        os.makedirs(osp.dirname(path))
        with open(path, 'w') as f:
            f.write(text)
    with pytest.warns(UserWarning, match='Skipping'):
        outputs = collect(root, str(tmp_path / 'out'))
    table = open(outputs['markdown']).read()
    assert '| 16 | measured (ours) | 50.00 (n=1) |' in table
    # --seeds: a seed that never started counts as asked too.
    os.remove(metrics_path(run_dir(root, 'dtd', 16, 2)))
    os.rmdir(run_dir(root, 'dtd', 16, 2))
    outputs = collect(root, str(tmp_path / 'out'), seeds=3)
    assert '| 16 | measured (ours) | 50.00 (n=1) |' in open(
        outputs['markdown']).read()


# ----------------------------------------- 9. spaces in --cfg-options
def test_case9_values_keep_their_spaces(tiny_world, tmp_path):
    spaced = tmp_path / 'copy of weights'
    spaced.mkdir()
    weights = shutil.copy(tiny_world.weights, spaced / 'clip weights.pt')
    output = succeeded(run_tool(
        'test', tiny_world.config, '--work-dir', str(tmp_path / 'test'),
        '--cfg-options', f'model.backbone.pretrained={weights}'))
    assert 'accuracy/top1' in output
    # The sweep's ImageNet variant roots below a --data-root with spaces.
    sweep_cli, test = load_tool('sweep'), load_tool('test')
    args = sweep_cli.parse_args([
        '--configs', f'imagenet={IMAGENET}', '--shots', '16', '--seeds', '1',
        '--imagenet-variants', '--data-root', '/data/dir with space',
        '--work-root', str(tmp_path / 'sweep')])
    runs, _ = sweep.plan_runs(
        [sweep.load_experiment('imagenet', IMAGENET)], args,
        sweep.variant_datasets())
    roots = set()
    for step in runs[0].steps[1:]:
        parsed = test.parse_args(step.cmd[2:])
        assert parsed.data_root == '/data/dir with space'
        roots.add((parsed.cfg_options or {}).get(
            'test_dataloader.dataset.data_root'))
    assert {r for r in roots if r} == {
        f'/data/dir with space/{name}' for name in (
            'imagenetv2', 'imagenet-sketch', 'imagenet-adversarial',
            'imagenet-rendition')}


# ------------------------------------------- 10. every refusal is one line
def test_case10_config_and_disk_errors_end_in_one_line(tiny_world, tmp_path,
                                                       monkeypatch):
    syntax = tmp_path / 'syntax.py'
    syntax.write_text('model = dict(\n')
    line = refusal(run_tool('test', str(syntax)))
    assert line.startswith(f'Error: Config {str(syntax)!r} (or a _base_ '
                           'file it inherits) has a syntax error')
    missing_base = tmp_path / 'orphan.py'
    missing_base.write_text("_base_ = ['./gone.py']\n")
    line = refusal(run_tool('test', str(missing_base)))
    assert f"inherits '{tmp_path}/./gone.py', which does not exist" in line
    # A bad value: a mask pattern that names no weight (multi-line text).
    line = refusal(run_tool('test', tiny_world.config, '--work-dir',
                            str(tmp_path / 'test'), '--cfg-options',
                            'model.backbone.mask_targets=no.such.weight'))
    assert "Mask pattern 'no.such.weight' matches no image-encoder" in line
    # Missing data.
    line = refusal(run_tool(
        'test', tiny_world.config, '--work-dir', str(tmp_path / 'test'),
        '--cfg-options', 'test_dataloader.dataset.data_root=/no/such/data'))
    assert '/no/such/data' in line
    # A read-only work dir, then a full disk.
    work = str(tmp_path / 'work')
    real_open = os.open

    def read_only(path, *args, **kwargs):
        if str(path).startswith(work):
            raise OSError(errno.EROFS, 'Read-only file system', str(path))
        return real_open(path, *args, **kwargs)

    train = ['train', tiny_world.config, '--work-dir', work]
    monkeypatch.setattr(os, 'open', read_only)
    line = refusal(run_tool(*train))
    assert line == (f"Error: Cannot write '{work}/.rmt_run.lock': the file "
                    'system is read-only. Give a --work-dir on a writable '
                    'disk.')
    monkeypatch.setattr(os, 'open', real_open)

    def full_disk(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', full_disk)
    line = refusal(run_tool(*train))
    assert line.startswith("Error: No space left on the device to write '")
    assert line.endswith('Free space there, or give the run a --work-dir '
                         'on another disk.')
    monkeypatch.undo()
    # RMT_DEBUG shows the exception itself.
    monkeypatch.setenv(DEBUG_VARIABLE, '1')
    with pytest.raises(FileRefusedError, match='syntax error'):
        run_tool('test', str(syntax))


def test_case10_the_page_refuses_its_own_task_names():
    with pytest.raises(ValueError) as error:
        app.named_tasks(['zero-shot CLIP=masks.pth'])
    assert str(error.value) == (
        "The task name 'zero-shot CLIP' is the page's own; call the mask "
        'file something else: NAME=MASKS.')
