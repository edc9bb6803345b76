"""Fault injection on the files rmt_mm reads: code-running pickles,
corrupted, truncated, empty and foreign files, masks on other weights."""
import logging
import os.path as osp
import re
from pathlib import PurePosixPath

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint, load_from_http
from rmt_testing import TINY_VIT, load_tool, save_random_weights

from rmt_mm.fileio import (FileRefusedError, checkpoint_kind, content_checksum,
                           load_mask_file)
from rmt_mm.fileio import mask_file as mask_file_module
from rmt_mm.fileio import resume_checkpoint, safe_load
from rmt_mm.fileio.mask_file import FORMAT
from rmt_mm.fileio.resume_checkpoint import (INTEGRITY_KEY,
                                             load_resume_checkpoint,
                                             to_plain_checkpoint)
from rmt_mm.fileio.safe_load import _why_unreadable
from rmt_mm.models import MaskedCLIP, RMTClassifier
from rmt_mm.models.open_clip_loader import build_open_clip


class CreatesFile:
    """Unpickling this calls ``open(path, 'w')``: a file appears if the
    loader runs code from the pickle."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return open, (self.path, 'w')


@pytest.fixture
def payload(tmp_path):
    """A ``.pth`` whose loading would create ``marker``."""
    marker = str(tmp_path / 'code_ran')
    path = str(tmp_path / 'payload.pth')
    torch.save({'format': FORMAT, 'state_dict': {},
                'masks': CreatesFile(marker)}, path)
    return path, marker


def _tiny_config(tmp_path, pretrained) -> str:
    config = tmp_path / 'cfg.py'
    config.write_text(f'model = dict(backbone=dict(type="RMTMaskedCLIP", '
                      f'arch={TINY_VIT!r}, pretrained={pretrained!r}))\n')
    return str(config)


ENTRY_POINTS = {
    'safe_load': lambda path, tmp: safe_load(path),
    'tools/test.py (kind of file)': lambda path, tmp: checkpoint_kind(path),
    'mask file': lambda path, tmp: load_mask_file(path),
    'MaskedCLIP(mask_file=)': lambda path, tmp: MaskedCLIP(
        arch=TINY_VIT, mask_file=path),
    'load_from / --resume': lambda path, tmp: _load_checkpoint(path),
    'load_from=URL': lambda path, tmp: load_from_http(
        f'file://{path}', model_dir=str(tmp / 'hub')),
    'pretrained=': lambda path, tmp: build_open_clip(TINY_VIT, path),
    'tools/export.py': lambda path, tmp: load_tool('export').main(
        [_tiny_config(tmp, None), path, '--out', str(tmp / 'out.pt')]),
    'tools/visualize.py masks': lambda path, tmp: load_tool(
        'visualize').main(['masks', path]),
}


@pytest.mark.parametrize('entry', list(ENTRY_POINTS))
def test_no_entry_point_runs_code_from_a_file(tmp_path, payload, entry):
    path, marker = payload
    with pytest.raises(FileRefusedError) as error:
        ENTRY_POINTS[entry](path, tmp_path)
    assert not osp.exists(marker)
    message = str(error.value)
    assert path in message and 'could run code' in message
    assert '\n' not in message
    # The payload does work when loaded unsafely: the test is meaningful.
    torch.load(path, weights_only=False)
    assert osp.exists(marker)


def _write(path: str, data: bytes) -> str:
    with open(path, 'wb') as f:
        f.write(data)
    return path


def _write_torch(path, obj, **kwargs) -> bytes:
    torch.save(obj, str(path), **kwargs)
    with open(path, 'rb') as f:
        return f.read()


def _bad_files(tmp_path, good: str):
    data = open(good, 'rb').read()
    return {
        'empty': _write(str(tmp_path / 'empty.pth'), b''),
        'truncated': _write(str(tmp_path / 'truncated.pth'),
                            data[:len(data) // 2]),
        'not torch': _write(str(tmp_path / 'notes.pth'), b'hello\n' * 50),
    }


@pytest.fixture
def mask_file(tmp_path):
    weights = save_random_weights(TINY_VIT, str(tmp_path / 'clip.pt'))
    model = MaskedCLIP(arch=TINY_VIT, pretrained=weights)
    with torch.no_grad():
        for _, scores in model.masks.items():
            scores.copy_(torch.rand(scores.shape) * 0.01)
    path = str(tmp_path / 'masks.pth')
    model.save_masks(path)
    return path, weights


@pytest.mark.parametrize('kind', ['empty', 'truncated', 'not torch'])
@pytest.mark.parametrize('loader', [load_mask_file, load_resume_checkpoint,
                                    checkpoint_kind])
def test_unreadable_files_are_refused_naming_them(tmp_path, mask_file, kind,
                                                  loader):
    path = _bad_files(tmp_path, mask_file[0])[kind]
    with pytest.raises(FileRefusedError,
                       match='copy or download it again|Copy it again') as e:
        loader(path)
    assert path in str(e.value) and '\n' not in str(e.value)


def test_flipped_bytes_of_a_mask_file_never_go_unnoticed(tmp_path,
                                                         mask_file):
    path = mask_file[0]
    data = open(path, 'rb').read()
    original = load_mask_file(path)
    refused = 0
    for start in range(0, len(data), 256):
        flipped = bytearray(data)
        flipped[start:start + 256] = bytes(b ^ 0xFF
                                           for b in data[start:start + 256])
        broken = _write(str(tmp_path / 'flipped.pth'), bytes(flipped))
        try:
            masks, meta = load_mask_file(broken)
        except FileRefusedError as error:
            assert broken in str(error)
            refused += 1
            continue
        # Only bytes that carry nothing (zip padding) may change unnoticed.
        # Exact: values read back from the file are copies (booleans, and
        # meta floats stored as they were).
        assert meta == original[1]
        assert all(torch.equal(masks[n], original[0][n]) for n in masks)
    assert refused >= len(data) // 256 - 2


def test_changed_bits_fail_the_checksum(tmp_path, mask_file):
    payload = torch.load(mask_file[0], weights_only=True)
    name = next(iter(payload['masks']))
    payload['masks'][name]['bits'][0] ^= 1
    broken = str(tmp_path / 'bits.pth')
    torch.save(payload, broken)
    with pytest.raises(FileRefusedError, match='checksum does not match'):
        load_mask_file(broken)


@pytest.fixture
def warnings(monkeypatch):
    """The messages rmt_mm's loaders log."""
    messages = []
    for module in (mask_file_module, resume_checkpoint):
        monkeypatch.setattr(module, 'print_log',
                            lambda message, **kwargs: messages.append(message))
    return messages


def test_mask_file_without_checksum_loads_with_a_warning(tmp_path,
                                                         mask_file,
                                                         monkeypatch):
    payload = torch.load(mask_file[0], weights_only=True)
    old = dict(format=FORMAT, version=1, meta=payload['meta'],
               masks=payload['masks'])
    path = str(tmp_path / 'v1.pth')
    torch.save(old, path)
    logged = []
    monkeypatch.setattr(mask_file_module, 'print_log',
                        lambda msg, logger, level: logged.append(
                            (msg, logger, level)))
    masks, _ = load_mask_file(path)
    assert set(masks) == set(payload['masks'])
    assert logged == [(
        f'{path!r} is a mask file from before checksums (version 1): it '
        'cannot prove that it is intact. Mask files written by this rmt_mm '
        'carry one.', 'current', logging.WARNING)]


def test_masks_refuse_other_weights_unless_allowed(tmp_path, mask_file):
    path, weights = mask_file
    other = save_random_weights(TINY_VIT, str(tmp_path / 'other.pt'), seed=1)
    with pytest.raises(FileRefusedError, match='learned on other weights'):
        MaskedCLIP(arch=TINY_VIT, pretrained=other, mask_file=path)
    with pytest.raises(FileRefusedError, match='--allow-other-weights'):
        load_tool('export').main([_tiny_config(tmp_path, other), path,
                                  '--out', str(tmp_path / 'out.pt')])
    MaskedCLIP(arch=TINY_VIT, pretrained=other, mask_file=path,
               allow_other_weights=True)
    load_tool('export').main([_tiny_config(tmp_path, other), path, '--out',
                              str(tmp_path / 'out.pt'),
                              '--allow-other-weights'])
    MaskedCLIP(arch=TINY_VIT, pretrained=weights, mask_file=path)
    # export takes --cfg-options: the right weights given on the line.
    load_tool('export').main([
        _tiny_config(tmp_path, other), path, '--out',
        str(tmp_path / 'out.pt'), '--cfg-options',
        f'model.backbone.pretrained={weights}'
    ])


def _checkpoint() -> dict:
    history = HistoryBuffer()
    for value in (0.5, 0.25):
        history.update(value)
    return dict(
        meta=dict(epoch=2, iter=8, seed=1),
        state_dict={'backbone.masks.scores.a': torch.rand(64, 64)},
        message_hub=dict(log_scalars={'train/loss': history},
                         runtime_info={'eta': torch.zeros(1).numpy()[0]},
                         resumed_keys={'eta': True}),
        optimizer={'state': {0: {'exp_avg': torch.rand(64, 64)}}})


def test_resume_checkpoints_hold_plain_data_and_round_trip(tmp_path):
    checkpoint = _checkpoint()
    to_plain_checkpoint(checkpoint)
    path = str(tmp_path / 'epoch_2.pth')
    torch.save(checkpoint, path)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    loaded = load_resume_checkpoint(path)
    assert INTEGRITY_KEY not in loaded
    history = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(history, HistoryBuffer)
    assert history.mean() == pytest.approx(0.375)
    assert torch.equal(loaded['state_dict']['backbone.masks.scores.a'],
                       checkpoint['state_dict']['backbone.masks.scores.a'])


def test_flipped_4kib_of_a_resume_checkpoint_are_refused(tmp_path):
    checkpoint = _checkpoint()
    to_plain_checkpoint(checkpoint)
    path = str(tmp_path / 'epoch_2.pth')
    torch.save(checkpoint, path)
    data = bytearray(open(path, 'rb').read())
    # Inside the first tensor's data (16 KiB of random floats).
    start = data.index(b'data/0') + 4096
    data[start:start + 4096] = bytes(b ^ 0xFF for b in data[start:
                                                            start + 4096])
    broken = _write(str(tmp_path / 'epoch_3.pth'), bytes(data))
    with pytest.raises(FileRefusedError, match='epoch_3.pth.*checksum'):
        _load_checkpoint(broken)


def test_old_resume_checkpoints_load_with_a_warning(tmp_path, warnings):
    path = str(tmp_path / 'epoch_1.pth')
    torch.save(_checkpoint(), path)  # HistoryBuffer and numpy, no checksum
    loaded = _load_checkpoint(path)
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == (
        0.25)
    assert any('carries no checksum' in m for m in warnings)


def test_a_mask_file_loads_where_a_checkpoint_does(mask_file):
    """load_from and mmpretrain.get_model(..., pretrained=MASKS) hand a mask
    file to MaskedCLIP, which checks it against its weights and loads it
    (a --resume from it is refused: tests/test_tools/test_refusals.py)."""
    from mmengine.runner.checkpoint import load_checkpoint
    path, weights = mask_file
    checkpoint = _load_checkpoint(path)
    assert checkpoint['state_dict'] == {'backbone.mask_file': path}
    expected, _ = load_mask_file(path)
    model = RMTClassifier(backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT,
                                        pretrained=weights),
                          classnames=('a', 'b'))
    load_checkpoint(model, path)
    # Booleans: exact.
    assert all(torch.equal(model.backbone.hard_masks()[n], expected[n])
               for n in expected)
    other = RMTClassifier(backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT),
                          classnames=('a', 'b'))
    with pytest.raises(FileRefusedError, match='learned on other weights'):
        load_checkpoint(other, path)


def test_checksum_sees_values_dtypes_and_order():
    base = {'a': torch.zeros(3), 'b': [1, 'x']}
    # Hashes of exactly representable literals, not of computed floats:
    # the same bytes on any CPU.
    assert content_checksum(base) == content_checksum(
        {'a': torch.zeros(3), 'b': [1, 'x']})
    for other in ({'a': torch.zeros(3, dtype=torch.float64), 'b': [1, 'x']},
                  {'b': [1, 'x'], 'a': torch.zeros(3)},
                  {'a': torch.tensor([0., 0., 1e-30]), 'b': [1, 'x']},
                  {'a': torch.zeros(3), 'b': [1, 'y']}):
        assert content_checksum(other) != content_checksum(base)
    with pytest.raises(TypeError, match='/b/0 holds a builtins.object'):
        content_checksum({'b': [object()]})
    module = re.escape(PurePosixPath.__module__)  # pathlib._local on 3.13
    with pytest.raises(TypeError, match=f'^/ holds a {module}.PurePosixPath;'):
        content_checksum(PurePosixPath('mask.pth'))


def test_the_refusal_says_why_the_file_cannot_be_read(tmp_path):
    def reason(data: bytes) -> str:
        path = _write(str(tmp_path / 'file.pth'), data)
        with pytest.raises(FileRefusedError) as e:
            safe_load(path)
        return str(e.value).split(' cannot be read (')[1].split('): it ')[0]

    state = {'w': torch.arange(40_000.)}  # a zip of about 160 KiB
    zipped = _write_torch(tmp_path / 'zip.pth', state)
    legacy = _write_torch(tmp_path / 'legacy.pth', state,
                          _use_new_zipfile_serialization=False)
    assert reason(b'hello\n' * 50) == 'it does not start like a PyTorch file'
    assert reason(zipped[:len(zipped) // 2]) == 'it ends early'
    assert reason(legacy[:10]) == 'it ends early'  # EOFError
    assert reason(legacy[:len(legacy) // 2]).startswith(
        'RuntimeError: unexpected EOF')
    # Complete (its end record is there) but with a record header broken:
    # the loader's own error, its type and first line (empty if it has no
    # text).
    broken = zipped[:4] + b'\0' * 200 + zipped[204:]
    assert re.fullmatch(r'[A-Za-z]+Error: .{1,120}', reason(broken))
    path = _write(str(tmp_path / 'zip.pth'), zipped)
    assert _why_unreadable(path, ValueError('')) == 'ValueError: '


def test_safe_loading_never_depends_on_torchs_default(tmp_path, monkeypatch):
    # torch < 2.6 loaded with weights_only=False by default: the safe
    # unpickler must be asked for, on the CPU unless told otherwise.
    path = str(tmp_path / 'state.pth')
    torch.save({'w': torch.ones(2)}, path)
    calls, load = [], torch.load
    monkeypatch.setattr(torch, 'load', lambda *a, **k: calls.append(k) or
                        load(*a, **k))
    safe_load(path)
    assert calls[0]['weights_only'] is True
    assert calls[0]['map_location'] == 'cpu'
