"""Timing and peak memory: timed calls, the peak above a baseline (CUDA
allocations or the CPU resident set), the CPU live-tensor peak, a phase in
a fresh forked process, and the comparisons of the targets."""
import gc
import multiprocessing
import operator
import time
import traceback
from typing import Callable, Dict, List, Sequence, Tuple

import torch

COMPARE = {'<=': operator.le, '>=': operator.ge, '<': operator.lt}
MIB = 1024**2
#: ``(result key, printed name, comparison, bound)`` of a target ratio.
Target = Tuple[str, str, str, float]


def check_targets(results: Dict, targets: Sequence[Target]) -> Dict:
    """``{key: {'bound': '<op> <bound>', 'met': bool}}`` per target."""
    return {key: dict(bound=f'{op} {bound}',
                      met=bool(COMPARE[op](results[key], bound)))
            for key, _, op, bound in targets}


def target_lines(results: Dict, targets: Sequence[Target],
                 width: int) -> List[str]:
    """One report line per target: name, measured, bound, verdict."""
    return [f'{name:<{width}}{results[key]:>10.3f}'
            f'{op + " " + str(bound):>10}  '
            f"{'PASS' if results['targets'][key]['met'] else 'MISS'}"
            for key, name, op, bound in targets]


def synchronize(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def time_calls(fn: Callable, device: str, repeats: int,
               warmup: int = 0) -> List[float]:
    """Seconds of each of ``repeats`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def proc_status_kib(field: str) -> int:
    """The value of ``field`` in /proc/self/status (KiB)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'/proc/self/status has no {field}')


class PeakMemory:
    """Peak memory above a baseline taken by :meth:`start`."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.baseline = 0
        self.peak_was_reset = True

    @property
    def method(self) -> str:
        if self.device == 'cuda':
            return ('torch.cuda.max_memory_allocated minus memory_allocated '
                    'after building')
        if not self.peak_was_reset:
            return ('peak RSS since the process started (VmHWM; '
                    '/proc/self/clear_refs not writable, so building is '
                    'included) minus RSS after building, fresh forked '
                    'process per phase')
        return ('peak RSS (VmHWM, reset via /proc/self/clear_refs) minus RSS '
                'after building, fresh forked process per phase')

    def start(self) -> None:
        gc.collect()
        if self.device == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            self.baseline = torch.cuda.memory_allocated()
            return
        self.baseline = proc_status_kib('VmRSS') * 1024
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')  # resets the peak resident set size (VmHWM)
        except OSError:
            self.peak_was_reset = False

    def peak_mb(self) -> float:
        if self.device == 'cuda':
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        else:
            peak = proc_status_kib('VmHWM') * 1024
        return (peak - self.baseline) / MIB


def live_tensor_peak_mb(step: Callable, steps: int = 2) -> float:
    """Peak of live tensor memory over the first ``steps`` calls of ``step``
    (from the profiler's allocation events), above what was live before.

    This is the CPU counterpart of CUDA's ``max_memory_allocated``: it
    counts tensors (activations, gradients, optimizer state created by the
    first step, temporaries), not memory the C allocator keeps cached.
    """
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU],
                 profile_memory=True) as prof:
        for _ in range(steps):
            step()
    events = sorted((e.start_ns(), e.nbytes())
                    for e in prof.profiler.kineto_results.events()
                    if e.name() == '[memory]')
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak / MIB


def _child(send, fn: Callable, fn_args: tuple) -> None:
    try:
        send.send(('ok', fn(*fn_args)))
    except BaseException:  # reported to the parent, which re-raises
        send.send(('error', traceback.format_exc()))
    finally:
        send.close()


def run_in_fresh_process(fn: Callable, *fn_args):
    """``fn(*fn_args)`` in a forked process (which has its own peak RSS).

    Forking is safe here because the parent has run no torch computation
    yet (no intra-op thread pool, no CUDA context) and it skips the import
    cost of a new interpreter.
    """
    context = multiprocessing.get_context('fork')
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, fn, fn_args))
    process.start()
    send.close()
    try:
        status, payload = receive.recv()
    except EOFError:
        process.join()
        raise RuntimeError(
            f'The benchmark process died (exit code {process.exitcode}); '
            'out of memory? Try a smaller --batch-size.') from None
    process.join()
    if status == 'error':
        raise RuntimeError(f'Benchmark phase failed:\n{payload}')
    return payload
