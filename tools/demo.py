"""The embedded demo behind `make demo`: the whole R-AMT job on real images
that ship with scikit-learn (handwritten digits) and a tiny random CLIP.

Steps, each through the real tools: write the data and the random CLIP
weights, zero-shot evaluation (tools/test.py without checkpoint), R-AMT
training (tools/train.py), evaluation from the saved mask file, a per-layer
sparsity plot (tools/visualize.py), and a summary.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join('configs', 'demo', 'rmt_tiny_digits.py')
DIGITS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven',
          'eight', 'nine')
TRAIN_PER_CLASS = 100


def write_digits(root: str, size: int = 32) -> int:
    """Writes sklearn's 1,797 digits as ``root/{train,test}/<digit>/*.png``.

    Each class is shuffled with a fixed seed; the first
    :data:`TRAIN_PER_CLASS` images are for training, the rest are held out.

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
            split = 'train' if rank < TRAIN_PER_CLASS else 'test'
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
    from mmengine.config import Config
    arch = Config.fromfile(config).model.backbone.arch.to_dict()
    torch.manual_seed(0)
    os.makedirs(osp.dirname(path), exist_ok=True)
    torch.save(open_clip.CLIP(**arch).state_dict(), path)


def run(step: str, *args: str) -> None:
    """Runs a tool; its output goes to the console as it comes."""
    print(f'\n==> {step}: python {" ".join(args)}', flush=True)
    subprocess.run([sys.executable, *args], cwd=REPO, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='demo_output',
                        help='folder for data, weights and results')
    args = parser.parse_args()
    out = osp.join(REPO, args.out)
    work = osp.join(out, 'work')
    start = time.perf_counter()
    # --data-root: the config's demo_output/data becomes <out>/data.
    options = ['--data-root', out, '--cfg-options',
               f'model.backbone.pretrained={out}/tiny_clip_random.pt']

    if not osp.isdir(osp.join(out, 'data', 'test')):
        print('==> writing scikit-learn digits as PNGs to '
              f'{out}/data', flush=True)
        write_digits(osp.join(out, 'data'))
    write_random_clip(osp.join(out, 'tiny_clip_random.pt'),
                      osp.join(REPO, CONFIG))

    # Each demo is a new run: a training refuses a work dir that holds
    # another run's checkpoints.
    if osp.isdir(work):
        print(f'==> removing the previous demo run {work}', flush=True)
        shutil.rmtree(work)
    zero_shot = osp.join(out, 'zero_shot.json')
    run('zero-shot evaluation', 'tools/test.py', CONFIG, '--work-dir', work,
        '--out', zero_shot, *options)
    run('R-AMT training', 'tools/train.py', CONFIG, '--work-dir', work,
        *options)
    masks = osp.join(work, 'masks_final.pth')
    tuned = osp.join(out, 'rmt.json')
    run('evaluation from the mask file', 'tools/test.py', CONFIG, masks,
        '--work-dir', work, '--out', tuned, *options)
    plot = osp.join(out, 'mask_sparsity.png')
    run('per-layer sparsity plot', 'tools/visualize.py', 'masks', masks,
        '--out', plot)

    from rmt_mm.utils import load_mask_file
    _, meta = load_mask_file(masks)
    before = json.load(open(zero_shot))['accuracy/top1']
    after = json.load(open(tuned))['accuracy/top1']
    print('\n' + '\n'.join([
        'R-AMT demo: tiny CLIP with RANDOM weights on scikit-learn digits',
        f'  held-out test images      {sum(len(files) for _, _, files in os.walk(osp.join(out, "data", "test")))}',  # noqa: E501
        f'  accuracy before (0-shot)  {before:6.2f} %   (chance 10 %)',
        f'  accuracy after R-AMT      {after:6.2f} %',
        f'  sparsity of masked layers {100 * meta["sparsity"]:6.2f} %',
        f'  mask file                 {masks} '
        f'({osp.getsize(masks) / 1024:.1f} KiB)',
        f'  per-layer sparsity plot   {plot}',
        f'  total time                {time.perf_counter() - start:.0f} s',
    ]))


if __name__ == '__main__':
    main()
