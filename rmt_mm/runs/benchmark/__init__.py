"""Speed and memory of R-AMT against full fine-tuning and plain open_clip.

One run on the current device (CUDA when present, else CPU) measures, for a
random-weight open_clip architecture and one batch size:

* seconds per R-AMT training step: ``RMTClassifier.train_batch`` (student,
  teacher, CE, sparsity, distillation, then
  ``GradDropoutOptimWrapper.update_params``: two gradients, gradient
  dropout, Adam);
* seconds per full fine-tuning step of the same image encoder (forward,
  backward and Adam on every image-encoder weight, CE on the same cached
  text features), and of a frozen forward without autograd;
* the peak memory of each of these three;
* evaluation images per second of the masked model (``predict``), of the
  exported plain open_clip model and of open_clip itself;
* mask-file save and load time and size;
* with ``--methods``: the training step and evaluation throughput of every
  method of the comparison (CoOp, Tip-Adapter(-F), the combinations with
  R-AMT, zero-shot CLIP) as ratios to R-AMT's, and the evaluation of each
  combination (masks folded) against its base method's.

Memory is the peak above the memory held right after the model (and, for
training, its trainable tensors) was built, so model weights, mask scores
and cached text features are excluded and gradients, optimizer state,
activations and temporaries are included. On CUDA it is
``torch.cuda.max_memory_allocated`` minus ``memory_allocated`` at that
point. On CPU every training phase runs in a fresh forked process: the peak
resident set (``VmHWM``, reset through ``/proc/self/clear_refs``) minus the
resident set at that point; it also counts memory that the C allocator
keeps after tensors are freed (see docs/performance.md).

``--mode tasks`` measures one CLIP serving many mask-tuned tasks instead:
start-up, memory per task, switch time, single and alternating streams, and
the images per second of 1, 2 and 4 threads calling it at once (each
result checked against the task's logits computed alone).

Example::

    python tools/benchmark.py --arch ViT-B-16 --batch-size 8 \\
        --json bench.json
    python tools/benchmark.py --mode tasks --tasks 10 --requests 20
"""
import argparse
import json
import os
from typing import Dict

import torch

from ...version import __version__
from .building import (CLASSNAMES, LAM, LR, build_model, image_size,
                       set_random_masks)
from .measure import run_in_fresh_process
from .methods import format_methods, measure_methods
from .tasks import format_task_report, measure_task_server
from .training import (TRAIN_PHASES, add_ratios, format_report, measure_eval,
                       measure_live_peak, measure_mask_files, measure_phase)


def write_json(args: argparse.Namespace, results: Dict) -> None:
    """Writes the figures to ``--json`` when it is given."""
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)


def benchmark_methods(args: argparse.Namespace) -> Dict:
    """``--mode methods``: the comparison of ``--methods`` alone."""
    load_before = os.getloadavg()[0]
    results = dict(methods=measure_methods(args))
    load_after = os.getloadavg()[0]
    results['settings'] = dict(
        mode='methods', arch=args.arch, batch_size=args.batch_size,
        repeats=args.repeats, eval_repeats=args.eval_repeats,
        eval_builds=args.eval_builds, warmup=args.warmup, dtype=args.dtype,
        amp=args.amp, device=args.device, threads=args.threads,
        load_average=[load_before, load_after],
        torch=torch.__version__, rmt_mm=__version__)
    arch = args.arch if isinstance(args.arch, str) else 'custom (JSON)'
    print(f'R-AMT methods benchmark: {arch}, batch {args.batch_size}, '
          f'{args.device} ({args.threads} threads), {args.repeats} timed '
          f'steps and evaluations per method; {args.eval_builds} builds of '
          f'each pair compared, {args.eval_repeats} timed evaluations each\n'
          f'1-min load average before/after: {load_before:.1f} / '
          f'{load_after:.1f}')
    print(format_methods(results['methods']))
    write_json(args, results)
    return results


def benchmark_task_server(args: argparse.Namespace) -> Dict:
    """``--mode tasks``: measures, prints and returns the figures."""
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    with torch.no_grad():
        results = measure_task_server(args)
    results['settings'] = dict(
        mode='tasks', arch=args.arch, tasks=args.tasks,
        requests=args.requests, batch_size=args.batch_size,
        repeats=args.repeats, warmup=args.warmup, device=args.device,
        threads=args.threads,
        load_average=[load_before, os.getloadavg()[0]],
        torch=torch.__version__, rmt_mm=__version__)
    print(format_task_report(results))
    write_json(args, results)
    return results


def run_benchmark(args: argparse.Namespace) -> Dict:
    """Runs the measurements of ``args.mode`` (the arguments of
    tools/benchmark.py), prints the report, returns the figures."""
    if args.mode == 'tasks':
        return benchmark_task_server(args)
    if args.mode == 'methods':
        return benchmark_methods(args)
    return benchmark_training(args)


def benchmark_training(args: argparse.Namespace) -> Dict:
    """``--mode training``: every measurement, the report printed; returns
    the figures."""
    load_before = os.getloadavg()[0]
    results = {}
    for phase in TRAIN_PHASES:
        # CPU peak RSS needs a process of its own per phase; CUDA peaks are
        # reset in place.
        key = 'forward_s' if phase == 'forward' else f'{phase}_step_s'
        if args.device == 'cuda':
            measured = measure_phase(phase, args)
            results[f'{phase}_peak_mb'] = measured['peak_mb']
            memory_method = measured['memory_method']
        else:
            measured = run_in_fresh_process(measure_phase, phase, args)
            results[f'{phase}_peak_mb'] = run_in_fresh_process(
                measure_live_peak, phase, args)
            results[f'{phase}_rss_peak_mb'] = measured['peak_mb']
            memory_method = (
                'live tensors (profiler allocation events over the first 2 '
                'steps, the CPU counterpart of CUDA max_memory_allocated); '
                'peak RSS: ' + measured['memory_method'])
        results[key] = measured['step_s']
    torch.set_num_threads(args.threads)
    model = build_model(args)
    set_random_masks(model.backbone)
    results.update(measure_eval(model, args))
    results.update(measure_mask_files(model, args))
    add_ratios(results)
    if args.methods:
        results['methods'] = measure_methods(args)
    results['settings'] = dict(
        arch=args.arch,
        batch_size=args.batch_size,
        image_size=image_size(model.backbone),
        repeats=args.repeats,
        warmup=args.warmup,
        dtype=args.dtype,
        amp=args.amp,
        device=args.device,
        threads=args.threads,
        load_average=[load_before, os.getloadavg()[0]],
        memory_method=memory_method,
        lr=LR,
        lam=LAM,
        num_classes=len(CLASSNAMES),
        torch=torch.__version__,
        rmt_mm=__version__)
    print(format_report(results))
    if args.methods:
        print(format_methods(results['methods']))
    write_json(args, results)
    return results
