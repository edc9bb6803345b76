"""The embedded demo behind `make demo` (``tools/demo.py``): the whole R-AMT
job offline.

Two worlds. ``miniature`` (default): the miniature CLIP pre-trained on
rendered scenes (projects/miniature, weights shipped in the repository) on
its ``compositions`` task, 36 classes "<colour> <shape>" in a style
pre-training never saw. ``digits``: scikit-learn's handwritten digits and a
tiny CLIP with random weights (zero-shot is chance; every gain comes from
switching weights off).

:func:`run_demo` takes each step through the real tools: write the data
(and for ``digits`` the random weights), zero-shot evaluation
(tools/test.py without checkpoint), R-AMT training (tools/train.py),
evaluation from the saved mask file, a per-layer sparsity plot
(tools/visualize.py), then a summary printed and written to
``<out>/summary.json``.

:func:`compare_methods` runs every method instead (zero-shot CLIP, R-AMT,
CoOp, Tip-Adapter, Tip-Adapter-F and the combinations with R-AMT, 16 shots,
the given seeds) through tools/sweep.py on the world's task (the digits get
a val/ split for Tip-Adapter's search), then prints the side-by-side table
(mean ± std over the seeds) of tools/collect_results.py.

The miniature world imports the project's package ``rmt_miniature``, which
must be importable (``tools/demo.py`` puts ``projects/miniature`` on
``sys.path``).
"""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Sequence, Tuple

import numpy as np
from mmengine.config import Config

from ..fileio import load_mask_file
from .sweep import REPO

# Each world's dataset name and config template (tools/sweep.py's
# --config-template), relative to the repository.
WORLD_DATASETS = {'miniature': 'compositions', 'digits': 'digits'}
TEMPLATES = {
    'miniature': osp.join('projects', 'miniature', 'configs',
                          '{method}_mini_{dataset}_16shot.py'),
    'digits': osp.join('configs', 'demo', '{method}_tiny_{dataset}.py'),
}
CONFIGS = {
    world: template.format(method='rmt', dataset=WORLD_DATASETS[world])
    for world, template in TEMPLATES.items()
}
DIGITS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven',
          'eight', 'nine')
TRAIN_PER_CLASS = 100
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def write_digits(root: str, size: int = 32, val_per_class: int = 0) -> int:
    """Writes sklearn's 1,797 digits as ``root/{train,test}/<digit>/*.png``.

    Each class is shuffled with a fixed seed; the first
    :data:`TRAIN_PER_CLASS` images are for training, the next
    ``val_per_class`` go to ``root/val/`` and the rest are held out.

    Returns:
        The number of held-out test images.
    """
    from PIL import Image
    from sklearn.datasets import load_digits
    digits = load_digits()
    rng = np.random.RandomState(0)
    num_test = 0
    for label, name in enumerate(DIGITS):
        indices = rng.permutation(np.flatnonzero(digits.target == label))
        for rank, index in enumerate(indices):
            split = 'train' if rank < TRAIN_PER_CLASS else (
                'val' if rank < TRAIN_PER_CLASS + val_per_class else 'test')
            num_test += split == 'test'
            folder = osp.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            pixels = np.round(digits.images[index] * 255 / 16).astype(
                np.uint8)
            Image.fromarray(pixels, 'L').resize(
                (size, size), Image.BILINEAR).convert('RGB').save(
                    osp.join(folder, f'{index:04d}.png'))
    return num_test


def write_random_clip(path: str, config: str) -> None:
    """Saves a random CLIP of the demo architecture (seed 0) as its
    "pretrained" weights, so every step rebuilds the same model."""
    import open_clip
    import torch
    arch = Config.fromfile(config).model.backbone.arch.to_dict()
    torch.manual_seed(0)
    os.makedirs(osp.dirname(path), exist_ok=True)
    torch.save(open_clip.CLIP(**arch).state_dict(), path)


def run_step(step: str, log_dir: str, *args: str) -> None:
    """Runs a tool with its whole output in ``log_dir/<step>.log`` and one
    progress line on the console.

    Raises:
        SystemExit: With the tool's exit code when it fails, after printing
            the end of its log.
    """
    os.makedirs(log_dir, exist_ok=True)
    log = osp.join(log_dir, step.replace(' ', '_').replace('-', '_') + '.log')
    print(f'==> {step} ({args[0]})', end=' ... ', flush=True)
    start = time.perf_counter()
    with open(log, 'w') as file:
        # The whole command heads its log; the console gets one short line.
        file.write(f'$ python {" ".join(args)}\n')
        file.flush()
        code = subprocess.run([sys.executable, *args], cwd=REPO, stdout=file,
                              stderr=subprocess.STDOUT).returncode
    if code:
        print(f'failed (exit {code}); the end of {log}:')
        with open(log) as file:
            print(''.join(file.readlines()[-30:]), end='')
        sys.exit(code)
    print(f'{time.perf_counter() - start:.0f} s')


def summarize(world: str, data: str, zero_shot: dict, tuned: dict,
              mask_meta: dict, seconds: float) -> dict:
    """The demo's figures (accuracies and sparsity in percent).

    Args:
        world: The demo world.
        data: The dataset folder (``train/<class>/``, ``test/<class>/``).
        zero_shot: tools/test.py metrics of CLIP without masks.
        tuned: tools/test.py metrics of the R-AMT masks.
        mask_meta: The mask file's metadata.
        seconds: Wall time of the whole demo.
    """
    num_classes = len(os.listdir(osp.join(data, 'train')))
    summary = dict(
        world=world,
        num_classes=num_classes,
        num_test_images=sum(
            len(files) for _, _, files in os.walk(osp.join(data, 'test'))),
        chance_top1=100 / num_classes,
        zero_shot_top1=zero_shot['accuracy/top1'],
        rmt_top1=tuned['accuracy/top1'],
        sparsity=100 * mask_meta['sparsity'],
        seconds=seconds)
    summary['gain'] = summary['rmt_top1'] - summary['zero_shot_top1']
    return summary


def prepare(world: str,
            out: str,
            val_per_class: int = 0) -> Tuple[str, str]:
    """Writes the world's data (and random weights) under ``out``.

    Args:
        world: The demo world.
        out: Output folder.
        val_per_class: Digits for a val/ split (the miniature task has one).

    Returns:
        The dataset folder and the CLIP weight file.
    """
    if world == 'miniature':
        from rmt_miniature.tasks import write_task
        print(f'==> miniature task {WORLD_DATASETS[world]!r} under '
              f'{shown(out)}/data', flush=True)
        data = write_task(osp.join(out, 'data'), WORLD_DATASETS[world])
        weights = Config.fromfile(osp.join(
            REPO, CONFIGS[world])).model.backbone.pretrained
        return data, osp.join(REPO, weights)
    data = osp.join(out, 'data')
    if not osp.isdir(osp.join(data, 'test')):
        print(f'==> writing scikit-learn digits as PNGs to {data}',
              flush=True)
        write_digits(data, val_per_class=val_per_class)
    weights = osp.join(out, 'tiny_clip_random.pt')
    write_random_clip(weights, osp.join(REPO, CONFIGS[world]))
    return data, weights


def shown(path: str) -> str:
    """``path`` as the console shows it: relative to the working directory
    when it lies below it (``make demo`` runs from the repository)."""
    relative = osp.relpath(path)
    return path if relative.startswith(os.pardir) else relative


def data_options(data: str, weights: str) -> List[str]:
    """``--cfg-options`` values that point a world's configs at its data
    and weights."""
    return [f'model.backbone.pretrained={weights}'] + [
        f'{loader}.dataset.data_root={data}' for loader in LOADERS]


def run_demo(world: str, out: str) -> Dict:
    """The demo: R-AMT on the world's task, step by step, then the summary.

    Args:
        world: ``'miniature'`` or ``'digits'``.
        out: Folder for data, weights and results (relative paths are
            taken from the repository).

    Returns:
        The summary, as written to ``<out>/summary.json``.
    """
    out = osp.join(REPO, out)
    work = osp.join(out, 'work', world)
    config = CONFIGS[world]
    start = time.perf_counter()
    data, weights = prepare(world, out)
    options = ['--cfg-options', *data_options(data, weights)]

    # Each demo is a new run: a training refuses a work dir that holds
    # another run's checkpoints.
    if osp.isdir(work):
        print(f'==> removing the previous demo run {shown(work)}',
              flush=True)
        shutil.rmtree(work)
    zero_shot = osp.join(out, 'zero_shot.json')
    logs = osp.join(out, 'logs')
    run_step('zero-shot evaluation', logs, 'tools/test.py', config,
             '--work-dir', work, '--out', zero_shot, *options)
    run_step('R-AMT training', logs, 'tools/train.py', config, '--work-dir',
             work, *options)
    masks = osp.join(work, 'masks_final.pth')
    tuned = osp.join(out, 'rmt.json')
    run_step('evaluation from the mask file', logs, 'tools/test.py', config,
             masks, '--work-dir', work, '--out', tuned, *options)
    plot = osp.join(out, 'mask_sparsity.png')
    run_step('per-layer sparsity plot', logs, 'tools/visualize.py', 'masks',
             masks, '--out', plot)

    _, meta = load_mask_file(masks)
    with open(zero_shot) as file, open(tuned) as tuned_file:
        summary = summarize(world, data, json.load(file),
                            json.load(tuned_file), meta,
                            seconds=time.perf_counter() - start)
    summary.update(config=config, mask_file=masks,
                   mask_file_kib=osp.getsize(masks) / 1024)
    # Percent and seconds to two decimals: what a reader compares.
    summary = {k: round(v, 2) if isinstance(v, float) else v
               for k, v in summary.items()}
    with open(osp.join(out, 'summary.json'), 'w') as file:
        json.dump(summary, file, indent=1)
    print('\n' + '\n'.join([
        f'R-AMT demo ({world}): {config}',
        f'  held-out test images      {summary["num_test_images"]}',
        f'  chance                    {summary["chance_top1"]:6.2f} %',
        f'  zero-shot accuracy        {summary["zero_shot_top1"]:6.2f} %',
        f'  accuracy after R-AMT      {summary["rmt_top1"]:6.2f} %',
        f'  gain                      {summary["gain"]:+6.2f} points',
        f'  sparsity of masked layers {summary["sparsity"]:6.2f} %',
        f'  mask file                 {shown(masks)} '
        f'({summary["mask_file_kib"]:.1f} KiB)',
        f'  per-layer sparsity plot   {shown(plot)}',
        f'  summary                   {shown(out)}/summary.json',
        f'  full logs of each step    {shown(logs)}/',
        f'  total time                {summary["seconds"]:.0f} s',
    ]))
    return summary


def compare_methods(world: str, out: str, seeds: Sequence[int]) -> None:
    """Every method on the world's task (16 shots), side by side.

    Args:
        world: ``'miniature'`` or ``'digits'``.
        out: Output folder (relative paths are taken from the repository).
        seeds: Seeds of each method (the table shows mean ± std).
    """
    out = osp.join(REPO, out)
    start = time.perf_counter()
    data, weights = prepare(world, out, val_per_class=20)
    logs = osp.join(out, 'logs')
    run_step('every method', logs, 'tools/sweep.py', '--datasets',
             WORLD_DATASETS[world], '--config-template', TEMPLATES[world],
             '--methods', 'all', '--shots', '16', '--seeds',
             *map(str, seeds), '--work-root', osp.join(out, 'sweep'),
             '--fail-fast', '--cfg-options', *data_options(data, weights))
    results = osp.join(out, 'results')
    run_step('side-by-side table', logs, 'tools/collect_results.py',
             osp.join(out, 'sweep'), '--out-dir', results)
    with open(osp.join(results, 'results.md')) as file:
        print(file.read())
    print(f'\nAll methods in {time.perf_counter() - start:.0f} s.')
    if world == 'digits':
        print('A random CLIP knows nothing: zero-shot is chance, and the '
              'table shows what each method learns from 16 shots, not what '
              'it transfers.')
