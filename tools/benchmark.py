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
import gc
import json
import multiprocessing
import operator
import os
import os.path as osp
import statistics
import sys
import tempfile
import threading
import time
import traceback
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmpretrain.structures import DataSample
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

import rmt_mm  # noqa: F401  (registers components, applies shims; pre-fork)
from rmt_mm.apis import RMTTaskServer
from rmt_mm.engine import AmpGradDropoutOptimWrapper, GradDropoutOptimWrapper
from rmt_mm.models import MaskedCLIP, RMTClassifier, build_open_clip
from rmt_mm.models.classifier import DISTILLATION
from rmt_mm.runs.experiments import METHODS

CLASSNAMES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
              'horse', 'ship', 'truck')
TEMPLATES = ('a photo of a {}.', )
LR = 8e-5
LAM = 0.3
#: Share of mask entries kept in the masks used for evaluation and files.
KEEP_SHARE = 0.9
COMPARE = {'<=': operator.le, '>=': operator.ge, '<': operator.lt}
TRAIN_PHASES = ('rmt', 'finetune', 'forward')
MIB = 1024**2
#: (json key, description, comparison, bound) of each target.
TARGETS = (
    ('rmt_over_finetune_step', 'R-AMT step / fine-tune step', '<=', 1.75),
    ('rmt_over_finetune_peak', 'R-AMT peak / fine-tune peak', '<=', 0.85),
    ('masked_over_openclip_eval', 'masked eval / open_clip eval', '>=', 0.9),
    ('exported_over_openclip_eval', 'exported eval / open_clip eval', '>=',
     0.98),
    ('mask_save_load_s', 'mask save + load (s)', '<', 1.0),
)


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


# --------------------------------------------------------------- building
def dtype_of(args: argparse.Namespace) -> torch.dtype:
    return torch.bfloat16 if args.dtype == 'bf16' else torch.float32


def autocast(args: argparse.Namespace):
    """bf16 autocast under ``--amp``, nothing otherwise."""
    if not args.amp:
        return nullcontext()
    return torch.autocast(args.device, dtype=torch.bfloat16)


def build_model(args: argparse.Namespace) -> RMTClassifier:
    """The R-AMT classifier (paper mask set) on the benchmark device."""
    torch.manual_seed(0)
    model = RMTClassifier(
        backbone=dict(type='MaskedCLIP', arch=args.arch),
        classnames=CLASSNAMES,
        templates=TEMPLATES)
    return model.to(device=args.device, dtype=dtype_of(args))


def image_size(clip: MaskedCLIP) -> int:
    size = clip.clip.visual.image_size
    return size[0] if isinstance(size, (tuple, list)) else int(size)


def make_batch(model: RMTClassifier, args: argparse.Namespace) -> tuple:
    """Normalised random images and their ``DataSample`` labels."""
    generator = torch.Generator().manual_seed(1)
    size = image_size(model.backbone)
    images = torch.randn(
        args.batch_size, 3, size, size, generator=generator).to(
            device=args.device, dtype=dtype_of(args))
    samples = [
        DataSample().set_gt_label(i % len(CLASSNAMES))
        for i in range(args.batch_size)
    ]
    return images, samples


def set_random_masks(backbone: MaskedCLIP, seed: int = 2) -> None:
    """Masks that drop about ``1 - KEEP_SHARE`` of the entries."""
    generator = torch.Generator().manual_seed(seed)
    backbone.load_hard_masks({
        name: torch.rand(tuple(scores.shape), generator=generator) <
        KEEP_SHARE
        for name, scores in backbone.masks.items()
    })


def openclip_logits(clip: torch.nn.Module, images: torch.Tensor,
                    text_features: torch.Tensor) -> torch.Tensor:
    """``RMTClassifier.logits`` computed by a plain open_clip model."""
    features = clip.encode_image(images, normalize=True)
    return clip.logit_scale.exp() * features @ text_features.t()


# ------------------------------------------------------------- the steps
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


# ------------------------------------------------------ timing and memory
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


def _proc_status_kib(field: str) -> int:
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
        self.baseline = _proc_status_kib('VmRSS') * 1024
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
            peak = _proc_status_kib('VmHWM') * 1024
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


# ------------------------------------------------- evaluation, mask files
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


# -------------------------------------------------------------- methods
#: (base method, combination): folded-mask evaluation of the combination
#: is compared with its base method's.
PAIRS = (('zero_shot', 'rmt'), ('coop', 'coop_rmt'),
         ('tip_adapter', 'tip_adapter_rmt'),
         ('tip_adapter_f', 'tip_adapter_f_rmt'))
#: Zero-shot CLIP built twice: what timing noise alone makes of a ratio.
CONTROL = ('zero_shot', 'zero_shot')
#: Lowest images/s ratio of a folded combination to its base method.
COMBINATION_BOUND = 0.98
SHOTS = 16


def context_length(arch) -> int:
    """Tokens the text encoder of ``arch`` takes."""
    if isinstance(arch, str):
        import open_clip
        arch = open_clip.get_model_config(arch)
    return arch['text_cfg'].get('context_length', 77)


def build_method(method: str, args: argparse.Namespace) -> RMTClassifier:
    """The classifier of one method of the comparison, its cache (if any)
    filled with random features of ``SHOTS`` images per class."""
    torch.manual_seed(0)
    masks = METHODS[method].masks
    head = adapter = None
    if method.startswith('coop'):
        # CoOp's 16 context vectors; fewer for a short tiny text encoder.
        head = dict(type='RMTCoOpHead',
                    num_context=16 if context_length(args.arch) > 32 else 4)
    if method.startswith('tip_adapter'):
        adapter = dict(type='RMTTipAdapter',
                       fine_tune_keys=method.startswith('tip_adapter_f'))
    model = RMTClassifier(
        backbone=dict(type='MaskedCLIP', arch=args.arch,
                      mask_targets='paper' if masks else None),
        head=head, adapter=adapter,
        regularizer=DISTILLATION if masks else None,
        classnames=CLASSNAMES, templates=TEMPLATES)
    if adapter is not None:
        generator = torch.Generator().manual_seed(3)
        labels = torch.arange(SHOTS * len(CLASSNAMES)) % len(CLASSNAMES)
        features = torch.randn(len(labels), model.text_features.shape[1],
                               generator=generator)
        model.adapter.build_cache(features, labels, len(CLASSNAMES))
    return model.to(device=args.device, dtype=dtype_of(args))


def method_step(model: RMTClassifier,
                args: argparse.Namespace) -> Optional[Callable]:
    """One training step of ``model`` with its optim wrapper (gradient
    dropout when it has masks); ``None`` when nothing trains."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        return None
    images, samples = make_batch(model, args)
    model.train()
    optimizer = torch.optim.Adam(params, lr=LR)
    wrapper = (GradDropoutOptimWrapper(optimizer=optimizer, lam=LAM)
               if model.backbone.has_masks else
               OptimWrapper(optimizer=optimizer))

    def step():
        model.train_batch(images, samples, wrapper)

    return step


class OperationRecorder(TorchDispatchMode):
    """Records every tensor operation dispatched inside it: its name and
    the shapes and dtypes of its tensor arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.operations: List[tuple] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self.operations.append((str(func), tuple(
            (tuple(x.shape), str(x.dtype))
            for x in tree_leaves((args, kwargs))
            if isinstance(x, torch.Tensor))))
        return func(*args, **kwargs)


def evaluation_operations(model: RMTClassifier,
                          images: torch.Tensor) -> List[tuple]:
    """The operations of one ``predict`` (after a first one, which folds
    the masks)."""
    with torch.no_grad():
        model.predict(images)
        with OperationRecorder() as recorder:
            model.predict(images)
    return recorder.operations


def build_for_evaluation(method: str,
                         args: argparse.Namespace) -> RMTClassifier:
    """``build_method`` in eval mode, masks (if any) random."""
    model = build_method(method, args)
    if model.backbone.has_masks:
        set_random_masks(model.backbone)
    return model.eval()


def fastest_evaluations(models: Dict[str, RMTClassifier],
                        args: argparse.Namespace) -> Dict[str, float]:
    """Seconds of the fastest ``predict`` of each model, the models timed in
    alternating order ``--eval-repeats`` times after ``--warmup`` rounds."""
    images, _ = make_batch(next(iter(models.values())), args)
    names = list(models)
    times = {name: [] for name in names}
    with torch.no_grad(), autocast(args):
        for i in range(args.warmup + args.eval_repeats):
            for name in names[i % 2:] + names[:i % 2]:
                seconds = time_calls(lambda: models[name].predict(images),
                                     args.device, repeats=1)
                if i >= args.warmup:
                    times[name] += seconds
    return {name: min(t) for name, t in times.items()}


def compare_evaluation(base: str, combo: str,
                       args: argparse.Namespace) -> Dict:
    """Folded-mask evaluation of ``combo`` against ``base``: whether both
    run the same operations, and the images/s ratio of each of
    ``--eval-builds`` fresh builds of the two models and their median."""
    same, ratios = None, []
    for _ in range(args.eval_builds):
        # Fresh allocations each time: on a shared CPU where the weights of
        # a build land changes its speed by several per cent.
        models = {'base': build_for_evaluation(base, args),
                  'combo': build_for_evaluation(combo, args)}
        if same is None:
            images, _ = make_batch(models['base'], args)
            same = (evaluation_operations(models['base'], images) ==
                    evaluation_operations(models['combo'], images))
        seconds = fastest_evaluations(models, args)
        ratios.append(seconds['base'] / seconds['combo'])
        del models
        gc.collect()
    return dict(same_operations=same, ratios=ratios,
                ratio=statistics.median(ratios))


def measure_methods(args: argparse.Namespace) -> Dict:
    """Training step and evaluation throughput of every method, and the
    evaluation of each combination (masks random, folded) against its base
    method, with zero-shot CLIP against itself as the noise control."""
    torch.set_num_threads(args.threads)
    results = {}
    for method in METHODS:
        model = build_method(method, args)
        step = method_step(model, args)
        if step is not None:
            results[f'{method}_step_s'] = statistics.median(time_calls(
                step, args.device, args.repeats, args.warmup))
        images, _ = make_batch(model, args)
        model.eval()
        if model.backbone.has_masks:
            set_random_masks(model.backbone)
        with torch.no_grad(), autocast(args):
            seconds = statistics.median(time_calls(
                lambda: model.predict(images), args.device, args.repeats,
                args.warmup))
        results[f'{method}_eval_ips'] = args.batch_size / seconds
    for method in METHODS:
        if method != 'rmt' and f'{method}_step_s' in results:
            results[f'{method}_over_rmt_step'] = (
                results[f'{method}_step_s'] / results['rmt_step_s'])
        results[f'{method}_over_rmt_eval'] = (
            results[f'{method}_eval_ips'] / results['rmt_eval_ips'])
    for base, combo in (CONTROL, ) + PAIRS:
        results[f'{combo}_over_{base}'] = compare_evaluation(base, combo, args)
    return results


def format_methods(r: Dict) -> str:
    lines = ['', f"{'method':<26}{'train step':>12}{'/ R-AMT':>9}"
             f"{'eval img/s':>12}{'/ R-AMT':>9}"]
    for method, spec in METHODS.items():
        step = r.get(f'{method}_step_s')
        lines.append(
            f'{spec.label:<26}'
            + (f'{step:>10.3f} s{r.get(f"{method}_over_rmt_step", 1.0):>9.2f}'
               if step is not None else f"{'no training':>12}{'':>9}")
            + f'{r[f"{method}_eval_ips"]:>12.2f}'
            f'{r[f"{method}_over_rmt_eval"]:>9.2f}')
    lines += ['', 'folded-mask evaluation, combination / base method: same '
              'operations, and images/s ratio (median, and each fresh build; '
              f'target >= {COMBINATION_BOUND}):']
    for base, combo in (CONTROL, ) + PAIRS:
        c = r[f'{combo}_over_{base}']
        label = f'{METHODS[combo].label} / {METHODS[base].label}'
        if (base, combo) == CONTROL:
            label += ' (control)'
            verdict = 'noise'
        else:
            verdict = ('PASS' if c['same_operations']
                       and c['ratio'] >= COMBINATION_BOUND else 'MISS')
        each = ' '.join(f'{x:.3f}' for x in c['ratios'])
        same = 'yes' if c['same_operations'] else 'NO'
        lines.append(f'  {label:<52}{same:>4}{c["ratio"]:>7.3f}  ({each})  '
                     f'{verdict}')
    return '\n'.join(lines)


# --------------------------------------------------------------- report
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
    results['targets'] = {
        key: dict(bound=f'{op} {bound}',
                  met=bool(COMPARE[op](results[key], bound)))
        for key, _, op, bound in TARGETS
    }


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
    for key, name, op, bound in TARGETS:
        verdict = 'PASS' if r['targets'][key]['met'] else 'MISS'
        lines.append(f'{name:<34}{r[key]:>10.3f}{op + " " + str(bound):>10}'
                     f'  {verdict}')
    return '\n'.join(lines)


# ---------------------------------------------- many tasks over one CLIP
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
            backbone=dict(type='MaskedCLIP', arch=args.arch,
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


def time_callers(server: RMTTaskServer, images: torch.Tensor,
                 args: argparse.Namespace) -> Dict:
    """Images per second of 1, 2 and 4 threads calling the server at once
    (each switching task at every request), and how many of their results
    differ from each task's logits computed alone."""
    expected = {task: server.logits(images, task) for task in server.tasks}
    results, wrong = {}, 0
    for callers in CALLERS:
        durations = []
        for _ in range(args.repeats):
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
            durations.append(time.perf_counter() - began)
            for outcome in outcomes:
                if 'error' in outcome:
                    raise outcome['error']
                wrong += outcome['wrong']
        results[f'callers_{callers}_ips'] = (
            callers * args.requests * args.batch_size /
            statistics.median(durations))
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
        rss_before = _proc_status_kib('VmRSS')
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
        _proc_status_kib('VmRSS') - rss_before) / 1024

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
    results['targets'] = {
        key: dict(bound=f'{op} {bound}',
                  met=bool(COMPARE[op](results[key], bound)))
        for key, _, op, bound in TASK_TARGETS
    }
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
    for key, name, op, bound in TASK_TARGETS:
        verdict = 'PASS' if r['targets'][key]['met'] else 'MISS'
        lines.append(f'{name:<40}{r[key]:>10.3f}{op + " " + str(bound):>10}'
                     f'  {verdict}')
    return '\n'.join(lines)


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
        torch=torch.__version__, rmt_mm=rmt_mm.__version__)
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
        torch=torch.__version__, rmt_mm=rmt_mm.__version__)
    print(format_task_report(results))
    write_json(args, results)
    return results


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    """Runs every measurement, prints the report, returns the figures."""
    args = parse_args(argv)
    if args.mode == 'tasks':
        return benchmark_task_server(args)
    if args.mode == 'methods':
        return benchmark_methods(args)
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
        rmt_mm=rmt_mm.__version__)
    print(format_report(results))
    if args.methods:
        print(format_methods(results['methods']))
    write_json(args, results)
    return results


if __name__ == '__main__':
    main(sys.argv[1:])
