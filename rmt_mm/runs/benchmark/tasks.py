"""``--mode tasks``: one CLIP serving many mask-tuned tasks
(RMTTaskServer) against one model per task: start-up, memory per task,
switch time, single and alternating streams, and concurrent callers."""
import argparse
import gc
import os.path as osp
import statistics
import tempfile
import threading
import time
from typing import Dict, List, Tuple

import torch

from ...apis import RMTTaskServer
from ...models import MaskedCLIP, RMTClassifier, build_open_clip
from .building import CLASSNAMES, TEMPLATES, image_size, set_random_masks
from .measure import (MIB, check_targets, proc_status_kib, synchronize,
                      target_lines, time_calls)

#: (json key, description, comparison, bound) of the --mode tasks targets.
TASK_TARGETS = (
    ('switch_over_forward', 'task switch / batch forward', '<', 0.05),
    ('task_mask_mib', 'memory per task w/o text (MiB)', '<', 5.0),
    ('alternating_over_single', 'alternating / single stream', '>=', 0.9),
    ('callers_2_over_1', '2 callers / 1 caller (img/s)', '>=', 0.9),
    ('callers_4_over_1', '4 callers / 1 caller (img/s)', '>=', 0.9),
    ('concurrent_wrong', 'wrong results of 1-4 callers', '<=', 0),
)
#: Threads calling the server at once in --mode tasks.
CALLERS = (1, 2, 4)


def write_task_files(args: argparse.Namespace, folder: str) -> tuple:
    """Random CLIP weights as a "pretrained" file and ``--tasks`` mask files
    of the paper's mask set, each dropping its own random entries."""
    torch.manual_seed(0)
    weights = osp.join(folder, 'clip.pt')
    torch.save(build_open_clip(args.arch).state_dict(), weights)
    clip = MaskedCLIP(arch=args.arch, pretrained=weights)
    masks = []
    for i in range(args.tasks):
        set_random_masks(clip, seed=100 + i)
        masks.append(osp.join(folder, f'masks_task{i}.pth'))
        clip.save_masks(masks[-1])
    return weights, masks


def start_task_server(args: argparse.Namespace, weights: str,
                      masks: List[str]) -> RMTTaskServer:
    """One CLIP, then every task added to it."""
    backbone = MaskedCLIP(arch=args.arch, pretrained=weights)
    server = RMTTaskServer(backbone.to(args.device))
    for i, path in enumerate(masks):
        server.add_task(f'task{i}', path, CLASSNAMES, TEMPLATES)
    return server


def load_task_models(args: argparse.Namespace, weights: str,
                     masks: List[str]) -> None:
    """What a server without shared CLIP does: one full model per task
    (each freed before the next, so only the time counts)."""
    for path in masks:
        model = RMTClassifier(
            backbone=dict(type='RMTMaskedCLIP', arch=args.arch,
                          pretrained=weights, mask_file=path),
            classnames=CLASSNAMES, templates=TEMPLATES).to(args.device)
        del model
        gc.collect()


def time_switches(server: RMTTaskServer, args: argparse.Namespace) -> float:
    """Median seconds of a switch between two different tasks."""
    names = iter(server.tasks * (2 * args.repeats + 2))
    return statistics.median(time_calls(
        lambda: server.switch(next(names)), args.device,
        2 * args.repeats, warmup=1))


def time_streams(server: RMTTaskServer, images: torch.Tensor,
                 args: argparse.Namespace) -> Dict:
    """Seconds of ``--requests`` requests (one batch each) for one task and
    for tasks in turn, in alternating rounds so that load drift hits both."""
    seconds = dict(single=0.0, alternating=0.0)
    for _ in range(args.repeats):
        for stream in seconds:
            server.switch('task0')
            tasks = (['task0'] * args.requests if stream == 'single' else
                     [f'task{i % args.tasks}' for i in range(args.requests)])
            synchronize(args.device)
            start = time.perf_counter()
            for task in tasks:
                server.logits(images, task)
            synchronize(args.device)
            seconds[stream] += time.perf_counter() - start
    return seconds


def _call_server(server: RMTTaskServer, images: torch.Tensor, first: int,
                 expected: Dict[str, torch.Tensor], start: threading.Barrier,
                 args: argparse.Namespace, outcome: dict) -> None:
    """One caller thread: ``--requests`` requests, the tasks in turn from
    task ``first`` on, each result checked against ``expected``."""
    tasks = list(expected)
    start.wait()
    try:
        for request in range(args.requests):
            task = tasks[(first + request) % len(tasks)]
            if not torch.equal(server.logits(images, task), expected[task]):
                outcome['wrong'] += 1
    except Exception as error:  # noqa: BLE001 (re-raised by the caller)
        outcome['error'] = error


def _time_callers_once(server: RMTTaskServer, images: torch.Tensor,
                       callers: int, expected: Dict[str, torch.Tensor],
                       args: argparse.Namespace) -> Tuple[float, int]:
    """Seconds of ``callers`` threads sending their requests at once, and
    how many of their results were wrong."""
    start = threading.Barrier(callers + 1)
    outcomes = [dict(wrong=0) for _ in range(callers)]
    threads = [threading.Thread(
        target=_call_server,
        args=(server, images, i, expected, start, args, outcomes[i]))
        for i in range(callers)]
    for thread in threads:
        thread.start()
    synchronize(args.device)
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    synchronize(args.device)
    seconds = time.perf_counter() - began
    for outcome in outcomes:
        if 'error' in outcome:
            raise outcome['error']
    return seconds, sum(outcome['wrong'] for outcome in outcomes)


def time_callers(server: RMTTaskServer, images: torch.Tensor,
                 args: argparse.Namespace) -> Dict:
    """Images per second of 1, 2 and 4 threads calling the server at once
    (each switching task at every request), in alternating rounds so that
    load drift hits every count alike, and how many of their results
    differ from each task's logits computed alone."""
    expected = {task: server.logits(images, task) for task in server.tasks}
    durations = {callers: [] for callers in CALLERS}
    wrong = 0
    for _ in range(args.repeats):
        for callers in CALLERS:
            seconds, wrong_now = _time_callers_once(server, images, callers,
                                                    expected, args)
            durations[callers].append(seconds)
            wrong += wrong_now
    results = {
        f'callers_{callers}_ips': callers * args.requests * args.batch_size /
        statistics.median(durations[callers])
        for callers in CALLERS}
    for callers in CALLERS[1:]:
        results[f'callers_{callers}_over_1'] = (
            results[f'callers_{callers}_ips'] / results['callers_1_ips'])
    results['concurrent_wrong'] = wrong
    return results


def measure_task_server(args: argparse.Namespace) -> Dict:
    """Start-up, memory, switch time and stream throughput of one CLIP
    serving ``--tasks`` tasks."""
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        weights, masks = write_task_files(args, folder)
        rss_before = proc_status_kib('VmRSS')
        start = time.perf_counter()
        server = start_task_server(args, weights, masks)
        results['server_startup_s'] = time.perf_counter() - start
        start = time.perf_counter()
        load_task_models(args, weights, masks)
        results['separate_models_startup_s'] = time.perf_counter() - start
    gc.collect()
    tasks = [server.task(name) for name in server.tasks]
    text_bytes = statistics.mean(
        t.text_features.numel() * t.text_features.element_size()
        for t in tasks)
    results['task_mask_mib'] = statistics.mean(
        t.nbytes for t in tasks) / MIB - text_bytes / MIB
    results['task_text_mib'] = text_bytes / MIB
    results['task_sparsity'] = statistics.mean(t.sparsity for t in tasks)
    results['rss_growth_mib'] = (
        proc_status_kib('VmRSS') - rss_before) / 1024

    images = torch.randn(args.batch_size, 3, image_size(server.backbone),
                         image_size(server.backbone))
    images = images.to(args.device)
    server.switch('task0')
    results['forward_s'] = statistics.median(time_calls(
        lambda: server.logits(images, 'task0'), args.device, args.repeats,
        args.warmup))
    for name in server.tasks:  # every task hot in the index cache
        server.switch(name)
    results['switch_s'] = time_switches(server, args)
    hot_tasks, cache_bytes = server.cache_usage()
    results['cache_mib_per_hot_task'] = cache_bytes / hot_tasks / MIB
    server.cache_bytes = 0  # every switch decodes the bits again
    results['switch_cold_s'] = time_switches(server, args)
    server.cache_bytes = 256 * MIB
    streams = time_streams(server, images, args)
    results.update(time_callers(server, images, args))
    results.update(
        single_stream_s=streams['single'],
        alternating_stream_s=streams['alternating'],
        switch_over_forward=results['switch_s'] / results['forward_s'],
        switch_cold_over_forward=results['switch_cold_s'] /
        results['forward_s'],
        alternating_over_single=streams['single'] / streams['alternating'],
        startup_server_over_models=results['server_startup_s'] /
        results['separate_models_startup_s'])
    results['targets'] = check_targets(results, TASK_TARGETS)
    return results


def format_task_report(r: Dict) -> str:
    s = r['settings']
    arch = s['arch'] if isinstance(s['arch'], str) else 'custom (JSON)'
    lines = [
        f"R-AMT task server benchmark: {arch}, {s['tasks']} tasks "
        f"(sparsity {r['task_sparsity']:.1%}), batch {s['batch_size']}, "
        f"{s['device']} ({s['threads']} threads)",
        f"1-min load average before/after: {s['load_average'][0]:.1f} / "
        f"{s['load_average'][1]:.1f}",
        '',
        f"{'start-up: server + all tasks':<40}"
        f"{r['server_startup_s']:>10.2f} s",
        f"{'start-up: one model per task':<40}"
        f"{r['separate_models_startup_s']:>10.2f} s",
        f"{'batch forward':<40}{r['forward_s']:>10.3f} s",
        f"{'task switch (hot: indices cached)':<40}{r['switch_s']:>10.4f} s",
        f"{'task switch (cold: decoded from bits)':<40}"
        f"{r['switch_cold_s']:>10.4f} s",
        f"{'memory per task: mask bits':<40}{r['task_mask_mib']:>10.3f} MiB",
        f"{'memory per task: text features':<40}"
        f"{r['task_text_mib']:>10.3f} MiB",
        f"{'index cache per hot task':<40}"
        f"{r['cache_mib_per_hot_task']:>10.3f} MiB",
        f"{'RSS growth, server + tasks':<40}{r['rss_growth_mib']:>10.1f} MiB",
        f"{'single-task stream':<40}{r['single_stream_s']:>10.2f} s",
        f"{'alternating stream':<40}{r['alternating_stream_s']:>10.2f} s",
        *[f"{f'{n} concurrent caller(s), tasks in turn':<40}"
          f"{r[f'callers_{n}_ips']:>10.1f} img/s" for n in CALLERS],
        f"{'wrong results of concurrent callers':<40}"
        f"{r['concurrent_wrong']:>10d}",
        '',
        f"{'ratio':<40}{'measured':>10}{'target':>10}",
        f"{'start-up server / models':<40}"
        f"{r['startup_server_over_models']:>10.3f}",
        f"{'cold switch / batch forward':<40}"
        f"{r['switch_cold_over_forward']:>10.3f}",
    ]
    return '\n'.join(lines + target_lines(r, TASK_TARGETS, 40))
