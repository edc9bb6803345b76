"""Every method of the comparison beside R-AMT: training step and
evaluation throughput, and the folded-mask evaluation of each combination
against its base method (same operations, images/s ratio)."""
import argparse
import gc
import statistics
from typing import Callable, Dict, List, Optional

import torch
from mmengine.optim import OptimWrapper
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from ...engine import GradDropoutOptimWrapper
from ...models import RMTClassifier
from ...models.classifier import DISTILLATION
from ..experiments import METHODS
from .building import (CLASSNAMES, LAM, LR, TEMPLATES, autocast, dtype_of,
                       make_batch, set_random_masks)
from .measure import time_calls

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
        backbone=dict(type='RMTMaskedCLIP', arch=args.arch,
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
