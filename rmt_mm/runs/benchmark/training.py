"""The training-side figures: an R-AMT step against a full fine-tuning step
and a frozen forward (time and peak memory), the evaluation of the masked,
exported and plain open_clip models, the mask files, their ratios and the
report."""
import argparse
import os
import os.path as osp
import statistics
import tempfile
import time
from typing import Callable, Dict

import torch
import torch.nn.functional as F

from ...engine import AmpGradDropoutOptimWrapper, GradDropoutOptimWrapper
from ...models import RMTClassifier, build_open_clip
from .building import (LAM, LR, autocast, build_model, dtype_of, make_batch,
                       openclip_logits)
from .measure import (MIB, PeakMemory, check_targets, live_tensor_peak_mb,
                      target_lines, time_calls)

TRAIN_PHASES = ('rmt', 'finetune', 'forward')
#: (json key, description, comparison, bound) of each target.
TARGETS = (
    ('rmt_over_finetune_step', 'R-AMT step / fine-tune step', '<=', 1.75),
    ('rmt_over_finetune_peak', 'R-AMT peak / fine-tune peak', '<=', 0.85),
    ('masked_over_openclip_eval', 'masked eval / open_clip eval', '>=', 0.9),
    ('exported_over_openclip_eval', 'exported eval / open_clip eval', '>=',
     0.98),
    ('mask_save_load_s', 'mask save + load (s)', '<', 1.0),
)


def rmt_step(model: RMTClassifier, args: argparse.Namespace) -> Callable:
    """One R-AMT step with the real loss and optim wrapper."""
    images, samples = make_batch(model, args)
    model.train()
    optimizer = torch.optim.Adam(model.backbone.masks.parameters(), lr=LR)
    if args.amp:
        wrapper = AmpGradDropoutOptimWrapper(
            optimizer=optimizer, lam=LAM, dtype='bfloat16')
    else:
        wrapper = GradDropoutOptimWrapper(optimizer=optimizer, lam=LAM)

    def step():
        model.train_batch(images, samples, wrapper)

    return step


def finetune_step(model: RMTClassifier, args: argparse.Namespace) -> Callable:
    """One full fine-tuning step of the plain open_clip image encoder."""
    images, samples = make_batch(model, args)
    labels = torch.cat([s.gt_label for s in samples]).to(args.device)
    clip = model.backbone.clip
    clip.train()
    clip.visual.requires_grad_(True)
    optimizer = torch.optim.Adam(clip.visual.parameters(), lr=LR)

    def step():
        with autocast(args):
            logits = openclip_logits(clip, images, model.text_features)
            loss = F.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def forward_step(model: RMTClassifier, args: argparse.Namespace) -> Callable:
    """The frozen forward as the teacher runs it (train mode, no grad)."""
    images, _ = make_batch(model, args)
    model.train()

    def step():
        with torch.no_grad(), autocast(args):
            model.logits(images, masked=False)

    return step


STEP_BUILDERS = dict(
    rmt=rmt_step, finetune=finetune_step, forward=forward_step)


def measure_phase(phase: str, args: argparse.Namespace) -> Dict:
    """Median step seconds and peak memory of one training-side phase
    (CUDA: allocated; CPU: resident set)."""
    torch.set_num_threads(args.threads)
    model = build_model(args)
    step = STEP_BUILDERS[phase](model, args)
    memory = PeakMemory(args.device)
    memory.start()
    times = time_calls(step, args.device, args.repeats, args.warmup)
    return dict(step_s=statistics.median(times), peak_mb=memory.peak_mb(),
                memory_method=memory.method)


def measure_live_peak(phase: str, args: argparse.Namespace) -> float:
    """CPU live-tensor peak of one phase, in a process of its own (the
    profiler's own memory must not reach the resident-set figure)."""
    torch.set_num_threads(args.threads)
    model = build_model(args)
    step = STEP_BUILDERS[phase](model, args)
    # The profiler's C++ side logs start/stop (and, without a GPU, a device
    # query error) straight to fd 2; this is a child process, so mute it.
    with open(os.devnull, 'w') as devnull:
        os.dup2(devnull.fileno(), 2)
    return live_tensor_peak_mb(step)


def measure_eval(model: RMTClassifier, args: argparse.Namespace) -> Dict:
    """Images per second of masked, exported and plain open_clip models.

    The three are timed in turn within each repetition, starting with a
    different one each time, so drifts of the machine's speed and the
    position in the order hit them alike.
    """
    images, _ = make_batch(model, args)
    model.eval()
    exported = build_open_clip(model.backbone.arch)
    exported.load_state_dict(model.backbone.export_state_dict())
    exported.to(device=args.device, dtype=dtype_of(args)).eval()
    text = model.text_features
    runs = dict(
        masked=lambda: model.predict(images),
        exported=lambda: F.softmax(
            openclip_logits(exported, images, text), -1).argmax(-1),
        openclip=lambda: F.softmax(
            openclip_logits(model.backbone.clip, images, text), -1).argmax(
                -1))
    times = {name: [] for name in runs}
    with torch.no_grad(), autocast(args):
        for _ in range(args.warmup):
            for run in runs.values():
                run()
        names = list(runs)
        for i in range(args.repeats):
            for name in names[i % 3:] + names[:i % 3]:
                times[name] += time_calls(runs[name], args.device, repeats=1)
    return {
        f'eval_{name}_ips': args.batch_size / statistics.median(t)
        for name, t in times.items()
    }


def measure_mask_files(model: RMTClassifier,
                       args: argparse.Namespace) -> Dict:
    """Median save and load seconds and the size of the mask file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'masks.pth')
        save, load = [], []
        for _ in range(args.warmup + args.repeats):
            start = time.perf_counter()
            size = model.backbone.save_masks(path)
            save.append(time.perf_counter() - start)
            start = time.perf_counter()
            model.backbone.load_masks(path)
            load.append(time.perf_counter() - start)
    timed = slice(args.warmup, None)
    return dict(mask_save_s=statistics.median(save[timed]),
                mask_load_s=statistics.median(load[timed]),
                mask_file_bytes=size)


def add_ratios(results: Dict) -> None:
    results.update(
        rmt_over_finetune_step=results['rmt_step_s'] /
        results['finetune_step_s'],
        rmt_over_finetune_peak=results['rmt_peak_mb'] /
        results['finetune_peak_mb'],
        rmt_over_forward_step=results['rmt_step_s'] / results['forward_s'],
        finetune_over_forward_step=results['finetune_step_s'] /
        results['forward_s'],
        masked_over_openclip_eval=results['eval_masked_ips'] /
        results['eval_openclip_ips'],
        exported_over_openclip_eval=results['eval_exported_ips'] /
        results['eval_openclip_ips'],
        mask_save_load_s=results['mask_save_s'] + results['mask_load_s'])
    results['targets'] = check_targets(results, TARGETS)


def format_report(r: Dict) -> str:
    s = r['settings']
    arch = s['arch'] if isinstance(s['arch'], str) else 'custom (JSON)'
    lines = [
        f"R-AMT benchmark: {arch}, batch {s['batch_size']}, "
        f"{s['image_size']} px, {s['dtype']}{' + amp' if s['amp'] else ''},"
        f" {s['device']} ({s['threads']} threads), {s['warmup']} warm-up + "
        f"{s['repeats']} timed (median)",
        f"memory: {s['memory_method']}",
        f"1-min load average before/after: {s['load_average'][0]:.1f} / "
        f"{s['load_average'][1]:.1f} (other processes on {os.cpu_count()} "
        'cores skew the figures)',
        '',
        f"{'phase':<34}{'time':>16}{'peak memory':>16}{'peak RSS':>14}",
        *[f'{name:<34}{r[time]:>14.3f} s{r[phase + "_peak_mb"]:>12.0f} MiB'
          + (f'{r[phase + "_rss_peak_mb"]:>10.0f} MiB'
             if phase + '_rss_peak_mb' in r else '')
          for name, phase, time in [
              ('R-AMT training step', 'rmt', 'rmt_step_s'),
              ('full fine-tuning step', 'finetune', 'finetune_step_s'),
              ('frozen forward (no grad)', 'forward', 'forward_s')]],
        f"{'eval masked (predict)':<34}{r['eval_masked_ips']:>12.2f} img/s",
        f"{'eval exported open_clip':<34}"
        f"{r['eval_exported_ips']:>12.2f} img/s",
        f"{'eval open_clip':<34}{r['eval_openclip_ips']:>12.2f} img/s",
        f"{'mask file save':<34}{r['mask_save_s']:>14.3f} s",
        f"{'mask file load':<34}{r['mask_load_s']:>14.3f} s",
        f"{'mask file size':<34}{r['mask_file_bytes'] / MIB:>12.3f} MiB",
        '',
        f"{'ratio':<34}{'measured':>10}{'target':>10}",
        f"{'R-AMT step / forward':<34}{r['rmt_over_forward_step']:>10.2f}",
        f"{'fine-tune step / forward':<34}"
        f"{r['finetune_over_forward_step']:>10.2f}",
    ]
    return '\n'.join(lines + target_lines(r, TARGETS, 34))
