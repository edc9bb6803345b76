"""The embedded demo behind `make demo`: the whole R-AMT job offline.

Two worlds. ``miniature`` (default): the miniature CLIP pre-trained on
rendered scenes (projects/miniature, weights shipped in the repository) on
its ``compositions`` task, 36 classes "<colour> <shape>" in a style
pre-training never saw. ``digits``: scikit-learn's handwritten digits and a
tiny CLIP with random weights (zero-shot is chance; every gain comes from
switching weights off).

Steps, each through the real tools: write the data (and for ``digits`` the
random weights), zero-shot evaluation (tools/test.py without checkpoint),
R-AMT training (tools/train.py), evaluation from the saved mask file, a
per-layer sparsity plot (tools/visualize.py), then a summary printed and
written to ``<out>/summary.json``.

``--methods``: every method instead (zero-shot CLIP, R-AMT, CoOp,
Tip-Adapter, Tip-Adapter-F and the combinations with R-AMT, 16 shots, seeds
1, 2 and 3) through tools/sweep.py on the world's task (the digits get a
val/ split for Tip-Adapter's search), then the side-by-side table (mean ±
std over the seeds) of tools/collect_results.py.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from typing import Optional, Sequence, Tuple

import numpy as np
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'projects', 'miniature'))
# Each world's dataset name and config template (tools/sweep.py's
# --config-template).
DATASETS = {'miniature': 'compositions', 'digits': 'digits'}
TEMPLATES = {
    'miniature': osp.join('projects', 'miniature', 'configs',
                          '{method}_mini_{dataset}_16shot.py'),
    'digits': osp.join('configs', 'demo', '{method}_tiny_{dataset}.py'),
}
CONFIGS = {
    world: template.format(method='rmt', dataset=DATASETS[world])
    for world, template in TEMPLATES.items()
}
DIGITS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven',
          'eight', 'nine')
TRAIN_PER_CLASS = 100


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


def run(step: str, log_dir: str, *args: str) -> None:
    """Runs a tool with its whole output in ``log_dir/<step>.log`` and one
    progress line on the console; on failure, the end of the log."""
    os.makedirs(log_dir, exist_ok=True)
    log = osp.join(log_dir, step.replace(' ', '_').replace('-', '_') + '.log')
    print(f'==> {step}: python {" ".join(args)}', end=' ... ', flush=True)
    start = time.perf_counter()
    with open(log, 'w') as file:
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
        print(f'==> miniature task {DATASETS[world]!r} under {out}/data',
              flush=True)
        data = write_task(osp.join(out, 'data'), DATASETS[world])
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


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--world', choices=sorted(CONFIGS),
                        default='miniature',
                        help='pre-trained miniature CLIP on rendered scenes, '
                        'or a random CLIP on digits')
    parser.add_argument('--out', default='demo_output',
                        help='folder for data, weights and results')
    parser.add_argument('--methods', action='store_true',
                        help='run every method side by side instead')
    parser.add_argument('--seeds', nargs='+', type=int, default=[1, 2, 3],
                        help='seeds of --methods (mean ± std over them)')
    args = parser.parse_args(argv)
    if args.methods:
        compare_methods(args.world, osp.join(REPO, args.out, 'methods'),
                        args.seeds)
        return
    out = osp.join(REPO, args.out)
    work = osp.join(out, 'work', args.world)
    config = CONFIGS[args.world]
    start = time.perf_counter()
    data, weights = prepare(args.world, out)
    options = ['--cfg-options', f'model.backbone.pretrained={weights}'] + [
        f'{loader}.dataset.data_root={data}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')
    ]

    # Each demo is a new run: a training refuses a work dir that holds
    # another run's checkpoints.
    if osp.isdir(work):
        print(f'==> removing the previous demo run {work}', flush=True)
        shutil.rmtree(work)
    zero_shot = osp.join(out, 'zero_shot.json')
    logs = osp.join(out, 'logs')
    run('zero-shot evaluation', logs, 'tools/test.py', config, '--work-dir',
        work, '--out', zero_shot, *options)
    run('R-AMT training', logs, 'tools/train.py', config, '--work-dir',
        work, *options)
    masks = osp.join(work, 'masks_final.pth')
    tuned = osp.join(out, 'rmt.json')
    run('evaluation from the mask file', logs, 'tools/test.py', config,
        masks, '--work-dir', work, '--out', tuned, *options)
    plot = osp.join(out, 'mask_sparsity.png')
    run('per-layer sparsity plot', logs, 'tools/visualize.py', 'masks',
        masks, '--out', plot)

    from rmt_mm.fileio import load_mask_file
    _, meta = load_mask_file(masks)
    summary = summarize(
        args.world, data, json.load(open(zero_shot)), json.load(open(tuned)),
        meta, seconds=time.perf_counter() - start)
    summary.update(config=config, mask_file=masks,
                   mask_file_kib=osp.getsize(masks) / 1024)
    # Percent and seconds to two decimals: what a reader compares.
    summary = {k: round(v, 2) if isinstance(v, float) else v
               for k, v in summary.items()}
    with open(osp.join(out, 'summary.json'), 'w') as file:
        json.dump(summary, file, indent=1)
    print('\n' + '\n'.join([
        f'R-AMT demo ({args.world}): {config}',
        f'  held-out test images      {summary["num_test_images"]}',
        f'  chance                    {summary["chance_top1"]:6.2f} %',
        f'  zero-shot accuracy        {summary["zero_shot_top1"]:6.2f} %',
        f'  accuracy after R-AMT      {summary["rmt_top1"]:6.2f} %',
        f'  gain                      {summary["gain"]:+6.2f} points',
        f'  sparsity of masked layers {summary["sparsity"]:6.2f} %',
        f'  mask file                 {masks} '
        f'({summary["mask_file_kib"]:.1f} KiB)',
        f'  per-layer sparsity plot   {plot}',
        f'  summary                   {out}/summary.json',
        f'  full logs of each step    {logs}/',
        f'  total time                {summary["seconds"]:.0f} s',
    ]))


def compare_methods(world: str, out: str, seeds: Sequence[int]) -> None:
    """Every method on the world's task (16 shots), side by side."""
    start = time.perf_counter()
    data, weights = prepare(world, out, val_per_class=20)
    options = [f'model.backbone.pretrained={weights}'] + [
        f'{loader}.dataset.data_root={data}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')]
    logs = osp.join(out, 'logs')
    run('every method', logs, 'tools/sweep.py', '--datasets', DATASETS[world],
        '--config-template', TEMPLATES[world], '--methods', 'all',
        '--shots', '16', '--seeds', *map(str, seeds), '--work-root',
        osp.join(out, 'sweep'), '--fail-fast', '--cfg-options', *options)
    run('side-by-side table', logs, 'tools/collect_results.py',
        osp.join(out, 'sweep'))
    with open(osp.join(out, 'sweep', 'results.md')) as file:
        print(file.read())
    print(f'\nAll methods in {time.perf_counter() - start:.0f} s.')
    if world == 'digits':
        print('A random CLIP knows nothing: zero-shot is chance, and the '
              'table shows what each method learns from 16 shots, not what '
              'it transfers.')


if __name__ == '__main__':
    main()
