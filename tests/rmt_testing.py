"""Test helpers: tiny random open_clip models, their weight files and a
fabricated image-folder dataset."""
import contextlib
import io
import os
import re
import sys
from typing import NamedTuple, Optional

import numpy as np
import pytest
import torch
from PIL import Image

TINY_VIT = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=32, layers=2, width=32, patch_size=8,
                    head_width=16),
    text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2,
                  layers=1))
TINY_RESNET = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=64, layers=(1, 1, 1, 1), width=8),
    text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2,
                  layers=1))


def save_random_weights(arch: dict, path: str, seed: int = 0) -> str:
    """Builds a random open_clip model and saves its state dict."""
    import open_clip
    torch.manual_seed(seed)
    torch.save(open_clip.CLIP(**arch).state_dict(), path)
    return path


def make_image_folder(root: str, classes=('cat', 'dog', 'bird'),
                      per_class: int = 6, size: int = 40) -> str:
    """Writes ``root/<split>/<class>/*.png`` with class-dependent colours."""
    rng = np.random.default_rng(0)
    for split, count in (('train', per_class), ('test', per_class // 2)):
        for label, name in enumerate(classes):
            folder = os.path.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                pixels = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
                pixels[..., label % 3] += 150
                Image.fromarray(pixels).save(
                    os.path.join(folder, f'{i:03d}.png'))
    return root


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The demo's config (digits, the tiny CLIP of `make demo`'s first steps).
DEMO_CONFIG = os.path.join(REPO, 'configs', 'demo', 'rmt_tiny_digits.py')

TINY_CONFIG = """
_base_ = ['{repo}/configs/_base_/default_runtime.py',
          '{repo}/configs/_base_/schedules/rmt_adam_30e.py']
model = dict(
    type='RMTClassifier',
    backbone=dict(type='RMTMaskedCLIP', arch={arch!r}),
    data_preprocessor=dict(
        mean=[122.770938, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305], to_rgb=True))
global_batch_size = 4
auto_scale_lr = dict(base_batch_size=4)
optim_wrapper = dict(lam=1.0, optimizer=dict(lr=1e-2))
train_cfg = dict(max_epochs={epochs}, val_interval={epochs})
default_hooks = dict(logger=dict(interval=1))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.5, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=32, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=32),
    dict(type='PackInputs')]
dataset = dict(type='RMTFewShotImageFolder', data_root={data_root!r},
               num_shots=4, seed=1, subsample={subsample!r})
loader = dict(num_workers=0, collate_fn=dict(type='default_collate'))
train_dataloader = dict(
    batch_size=4, sampler=dict(type='RMTGlobalBatchSampler', shuffle=True),
    dataset=dict(dataset, split='train', pipeline=train_pipeline), **loader)
val_dataloader = dict(
    batch_size=8, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, split='val', pipeline=test_pipeline), **loader)
test_dataloader = dict(
    batch_size=8, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, split='test', pipeline=test_pipeline), **loader)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
"""


def write_tiny_config(path: str, data_root: str, epochs: int = 3,
                      subsample: str = 'all', arch: dict = None) -> str:
    """Writes a complete R-AMT config for a tiny random CLIP on
    ``data_root`` (a :func:`make_image_folder` tree)."""
    with open(path, 'w') as f:
        f.write(TINY_CONFIG.format(repo=REPO, arch=arch or TINY_VIT,
                                   epochs=epochs, data_root=data_root,
                                   subsample=subsample))
    return path


_TOOLS = {}


def load_tool(name: str):
    """Imports ``tools/<name>.py`` as a module, once per session (tools are
    scripts, not a package)."""
    if name not in _TOOLS:
        import importlib.util
        spec = importlib.util.spec_from_file_location(
            f'rmt_tool_{name}', os.path.join(REPO, 'tools', f'{name}.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _TOOLS[name] = module
    return _TOOLS[name]


class ToolResult(NamedTuple):
    """Exit code and everything a tool printed (stdout, stderr and logs)."""
    returncode: int
    output: str


def run_tool(name: str, *argv: str, cwd: Optional[str] = None
             ) -> ToolResult:
    """Runs ``tools/<name>.py`` in this process as ``python tools/<name>.py
    ARGV`` would, from ``cwd``: its ``main(argv)`` under the same one-line
    refusal handler, with mmengine's per-run singletons (loggers, message
    hubs, visualizers) cleared first, so that runs never share them.
    """
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.visualization import Visualizer

    from rmt_mm.runs import refuse_bad_files
    tool = load_tool(name)
    for kind in (MMLogger, MessageHub, Visualizer):
        kind._instance_dict.clear()
    stream, code = io.StringIO(), 0
    previous = os.getcwd()
    try:
        os.chdir(cwd or REPO)
        with contextlib.redirect_stdout(stream), \
                contextlib.redirect_stderr(stream):
            try:
                with refuse_bad_files():
                    tool.main(list(argv))
            except SystemExit as exit_:
                if isinstance(exit_.code, str):
                    print(exit_.code, file=sys.stderr)
                    code = 1
                else:
                    code = exit_.code or 0
    finally:
        os.chdir(previous)
    return ToolResult(code, stream.getvalue())


def refusal(result: ToolResult) -> str:
    """The one line a refused tool run ends with (exit code 1, no
    traceback, ``Error: ...``)."""
    code, output = result
    assert code == 1, output[-3000:]
    assert 'Traceback' not in output, output[-3000:]
    last = output.strip().splitlines()[-1]
    assert last.startswith('Error: '), output[-3000:]
    return last


def succeeded(result: ToolResult) -> str:
    """What a tool run that must succeed printed."""
    code, output = result
    assert code == 0, output[-3000:]
    return output


@contextlib.contextmanager
def sweep_steps_in_process():
    """Sweeps run their steps' tools in this process while it lasts (see
    :class:`ToolStepInProcess`)."""
    from rmt_mm.runs.sweep_launchers import common
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(common, 'start_command', ToolStepInProcess)
        yield


class ToolStepInProcess:
    """Stands in for the process of a sweep step ``python tools/<name>.py
    ARGV`` (``sweep_launchers.common.start_command``): runs the tool with
    :func:`run_tool` from the current folder and writes what it printed to
    the step's log. For tests where the sweep's processes are not what is
    being tested; the lane's environment (threads, GPUs) is not applied."""

    def __init__(self, cmd, log, env=None, preexec_fn=None) -> None:
        tool = re.fullmatch(r'.*[/\\]tools[/\\](\w+)\.py', cmd[1])
        assert cmd[0] == sys.executable and tool, cmd
        result = run_tool(tool.group(1), *cmd[2:], cwd=os.getcwd())
        log.write(result.output)
        log.flush()
        self.returncode = result.returncode

    def wait(self) -> int:
        return self.returncode

    def kill(self) -> None:
        """Nothing to end: the tool ran to its end in ``__init__``."""


def random_mask_file(clip, path: str, seed: int,
                     drop: float = 0.25) -> str:
    """Saves masks of a ``MaskedCLIP`` that drop about ``drop`` of the
    entries at random."""
    generator = torch.Generator().manual_seed(seed)
    clip.load_hard_masks({
        name: torch.rand(scores.shape, generator=generator) >= drop
        for name, scores in clip.masks.items()
    })
    clip.save_masks(path)
    return path
