"""Speed and memory of R-AMT against full fine-tuning and plain open_clip
(what is measured, and how: rmt_mm/runs/benchmark/).

Example::

    python tools/benchmark.py --arch ViT-B-16 --batch-size 8 \\
        --json bench.json
    python tools/benchmark.py --mode tasks --tasks 10 --requests 20
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

import torch

import rmt_mm  # noqa: F401  (registers components, applies shims; pre-fork)
from rmt_mm.runs.benchmark import run_benchmark


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark R-AMT training, memory, evaluation and mask '
        'files against full fine-tuning and plain open_clip (random '
        'weights, no downloads).')
    arch = parser.add_mutually_exclusive_group()
    arch.add_argument(
        '--arch', default='ViT-B-16', help='open_clip model name')
    arch.add_argument(
        '--arch-json',
        help='open_clip model config as a JSON string or a JSON file')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument(
        '--repeats', type=int, default=3, help='timed repetitions')
    parser.add_argument(
        '--warmup', type=int, default=1, help='untimed repetitions first')
    parser.add_argument('--dtype', choices=['fp32', 'bf16'], default='fp32',
                        help='dtype of weights, scores and inputs')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='bf16 autocast with fp32 weights (CUDA only; the R-AMT step '
        'then uses AmpGradDropoutOptimWrapper)')
    parser.add_argument(
        '--device', choices=['auto', 'cpu', 'cuda'], default='auto')
    parser.add_argument(
        '--threads',
        type=int,
        help='torch CPU threads (default: every core this process may use)')
    parser.add_argument(
        '--methods',
        action='store_true',
        help='also time every method of tools/sweep.py --methods beside '
        'R-AMT (training step, evaluation, combination vs base); '
        '--mode methods times only these')
    parser.add_argument(
        '--eval-repeats',
        type=int,
        default=3,
        help='timed evaluations of each model per build in the combination '
        '/ base comparison of --methods (the fastest counts)')
    parser.add_argument(
        '--eval-builds',
        type=int,
        default=4,
        help='fresh builds of each combination and its base method in the '
        'comparison of --methods (the ratio is the median over builds)')
    parser.add_argument('--json', help='write the figures to this file')
    parser.add_argument(
        '--mode',
        choices=['training', 'methods', 'tasks'],
        default='training',
        help='training: the figures above; methods: only the comparison of '
        '--methods; tasks: one CLIP serving many mask-tuned tasks '
        '(RMTTaskServer) against one model per task, and its images per '
        'second with 1, 2 and 4 threads calling it at once')
    parser.add_argument('--tasks', type=int, default=10,
                        help='tasks served in --mode tasks')
    parser.add_argument(
        '--requests',
        type=int,
        default=10,
        help='requests (one batch each) per stream in --mode tasks')
    args = parser.parse_args(argv)
    if args.device == 'auto':
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.amp and args.device != 'cuda':
        parser.error('--amp needs CUDA (mixed-precision optim wrappers '
                     'require an accelerator); use --dtype bf16 on CPU.')
    if args.amp and args.dtype != 'fp32':
        parser.error('--amp autocasts fp32 weights; drop --dtype bf16.')
    if min(args.batch_size, args.repeats, args.eval_repeats, args.eval_builds,
           args.tasks, args.requests) < 1 or args.warmup < 0:
        parser.error('--batch-size, --repeats, --eval-repeats, --eval-builds,'
                     ' --tasks and --requests must be >= 1, --warmup >= 0.')
    if args.arch_json is not None:
        text = args.arch_json
        if osp.isfile(text):
            with open(text) as f:
                text = f.read()
        args.arch = json.loads(text)
    if args.threads is None:
        args.threads = len(os.sched_getaffinity(0))
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    """Runs every measurement, prints the report, returns the figures."""
    return run_benchmark(parse_args(argv))


if __name__ == '__main__':
    main(sys.argv[1:])
