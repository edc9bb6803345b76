"""The low-shot study: which recipe lets R-AMT learn from 1 to 16 shots
without falling below zero-shot CLIP, measured on the miniature world.

Every variant is a change of the task's R-AMT config (the paper's recipe)
for a shot count; every run trains in-process, then evaluates its final
masks on the few-shot validation subset and on the test split. Runs are
independent folders ``<root>/<variant>/<task>/<shots>shot/seed<S>/`` with a
``result.json``; a finished run is skipped, so the study resumes where it
stopped. Choose on validation only: the test column is for the report.
"""
import json
import math
import os
import os.path as osp
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

from . import config_path
from .table import mean_std

RESULT_FILE = 'result.json'
SELECT = 'model_selection'
ZERO_SHOT = 'zero-shot'


def _hook(cfg, hook_type: str) -> dict:
    """The config's custom hook of ``hook_type``."""
    for hook in cfg.custom_hooks:
        if hook['type'] == hook_type:
            return hook
    raise KeyError(f'{hook_type} is not among the custom hooks.')


#: ``MaskedCLIP``'s defaults, used when the config does not set them.
DEFAULT_SCORE_INIT = 1e-2
DEFAULT_THRESHOLD = 5e-3


def flip_distance(cfg) -> float:
    """How far a mask score moves before its entry flips:
    ``|score_init - threshold|`` of the config's ``MaskedCLIP``."""
    backbone = cfg.get('model', {}).get('backbone', {})
    return abs(
        backbone.get('score_init', DEFAULT_SCORE_INIT) -
        backbone.get('threshold', DEFAULT_THRESHOLD))


def low_shot_epochs(lr: float, updates: int, distance: float,
                    min_epochs: int, margin: float) -> int:
    """Fewest epochs, at least ``min_epochs``, after which the learning
    rates of a per-epoch cosine schedule from ``lr`` to 0 sum to ``margin *
    distance``.

    Epoch ``e`` of ``E`` runs at ``lr * (1 + cos(pi * e / E)) / 2`` and the
    cosines of ``e = 0 .. E-1`` add up to 1, so ``updates`` per epoch sum to
    ``lr * updates * (E + 1) / 2``.
    """
    ratio = round(2 * margin * distance / (lr * updates), 9)
    return max(min_epochs, math.ceil(ratio) - 1)


def train_set_size(cfg) -> int:
    """Images of the training subset: classes x shots when the config states
    its class count, else counted by building the training set."""
    dataset = cfg.train_dataloader.dataset
    num_classes = (cfg.get('data_preprocessor') or {}).get('num_classes') or \
        cfg.model.get('data_preprocessor', {}).get('num_classes')
    if num_classes and dataset.get('num_shots', -1) > 0 and \
            dataset.get('subsample', 'all') == 'all':
        return num_classes * dataset.num_shots
    from mmpretrain.registry import DATASETS
    return len(DATASETS.build(dict(dataset, pipeline=[], lazy_init=False)))


def lr_sum_epochs(cfg, margin: float) -> int:
    """Epochs whose learning rates (per-epoch cosine from the config's lr
    to 0) sum to ``margin`` times the distance a score moves to flip."""
    from rmt_mm.datasets.samplers import updates_per_epoch
    updates = updates_per_epoch(train_set_size(cfg), cfg.global_batch_size)
    return low_shot_epochs(cfg.optim_wrapper.optimizer.lr, updates,
                           flip_distance(cfg), 1, margin)


@dataclass(frozen=True)
class Variant:
    """A recipe under study.

    Attributes:
        description: One line for the table.
        margin: Learning rates of the run sum to this many flip distances
            at the paper's lr (epochs follow); ``None`` keeps the config's
            30 epochs.
        max_flip_ratio: ``RMTMaskFlipHook``'s cap per update, or ``None``.
        score_stagger: ``MaskedCLIP``'s initial-score spread, or ``None``.
        options: Further config entries (dotted keys).
    """
    description: str
    margin: Optional[float] = None
    max_flip_ratio: Optional[float] = None
    score_stagger: Optional[str] = None
    options: Dict[str, object] = field(default_factory=dict)

    def apply(self, cfg) -> None:
        # Epochs from the paper's lr, before the options may change it.
        if self.margin is not None:
            epochs = lr_sum_epochs(cfg, self.margin)
            cfg.train_cfg.max_epochs = epochs
            cfg.train_cfg.val_interval = epochs
        cfg.merge_from_dict(dict(self.options))
        if self.max_flip_ratio is not None:
            _hook(cfg, 'RMTMaskFlipHook')['max_flip_ratio'] = \
                self.max_flip_ratio
        if self.score_stagger is not None:
            cfg.model.backbone.score_stagger = self.score_stagger


#: Every variant tried; a new one is a new entry (its runs go to a new
#: folder, the old results stay valid).
VARIANTS: Dict[str, Variant] = {
    'paper': Variant("the paper's 16-shot recipe at every shot count"),
    'margin2': Variant('learning rates summing to 2 flip distances '
                       '(main before the study)', margin=2.0),
    'margin4': Variant('learning rates summing to 4 flip distances',
                       margin=4.0),
    'margin4-cap1e-3': Variant('margin 4, at most 0.1 % of the entries '
                               'cross per update', margin=4.0,
                               max_flip_ratio=1e-3),
    'margin4-cap1e-4': Variant('margin 4, at most 0.01 % of the entries '
                               'cross per update', margin=4.0,
                               max_flip_ratio=1e-4),
    'margin4-stagger': Variant('margin 4, initial scores spread by |W|',
                               margin=4.0, score_stagger='magnitude'),
    'margin4-stagger-uniform': Variant(
        'margin 4, initial scores spread at random (control)', margin=4.0,
        score_stagger='uniform'),
    'margin2-stagger': Variant('margin 2, initial scores spread by |W|',
                               margin=2.0, score_stagger='magnitude'),
    'paper-stagger': Variant("the paper's recipe, initial scores spread "
                             'by |W|', score_stagger='magnitude'),
    'paper-stagger-bestval': Variant(
        "the paper's recipe, initial scores spread by |W|, best epoch on val",
        score_stagger='magnitude', options={SELECT: 'best_val'}),
    'margin4-stagger-bestval': Variant(
        'margin 4, initial scores spread by |W|, best epoch on val',
        margin=4.0, score_stagger='magnitude', options={SELECT: 'best_val'}),
    'margin1.5': Variant('learning rates summing to 1.5 flip distances',
                         margin=1.5),
    'margin3': Variant('learning rates summing to 3 flip distances',
                       margin=3.0),
    'margin2-bestval': Variant('margin 2, best epoch on val (zero-shot '
                               'included)', margin=2.0, options={
                                   SELECT: 'best_val'}),
    'margin4-bestval': Variant('margin 4, best epoch on val (zero-shot '
                               'included)', margin=4.0, options={
                                   SELECT: 'best_val'}),
    'sgd3e-4': Variant('SGD (momentum 0.9, lr 3e-4) on the scores, as many '
                       'updates as margin 4', margin=4.0, options={
                           'optim_wrapper.optimizer': dict(
                               _delete_=True, type='SGD', lr=3e-4,
                               momentum=0.9)}),
    'sgd1e-4': Variant('SGD (momentum 0.9, lr 1e-4) on the scores, as many '
                       'updates as margin 4', margin=4.0, options={
                           'optim_wrapper.optimizer': dict(
                               _delete_=True, type='SGD', lr=1e-4,
                               momentum=0.9)}),
    'sgd1e-3': Variant('SGD (momentum 0.9, lr 1e-3) on the scores, as many '
                       'updates as margin 4', margin=4.0, options={
                           'optim_wrapper.optimizer': dict(
                               _delete_=True, type='SGD', lr=1e-3,
                               momentum=0.9)}),
}


def run_folder(root: str, variant: str, task: str, shots: int,
               seed: int) -> str:
    return osp.join(root, variant, task, f'{shots}shot', f'seed{seed}')


def build_config(variant: Optional[str], task: str, shots: int, seed: int,
                 data_root: str, work_dir: str):
    """The run's config: the task's config, its shots and seed, then the
    variant (``None`` or :data:`ZERO_SHOT`: the config as it is)."""
    from mmengine.config import Config

    from rmt_mm.runs.launch import apply_global_batch_size, check_train_config
    from rmt_mm.runs.recipe import resolve_lam, set_shots_and_seed
    cfg = Config.fromfile(config_path(task))
    set_shots_and_seed(cfg, shots, seed)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = osp.join(data_root, task)
    cfg.work_dir = work_dir
    cfg.log_level = 'WARNING'
    cfg.experiment_name = f'rmt_{variant}_{task}_{shots}_{seed}_' \
        f'{os.getpid()}_{time.time_ns()}'
    cfg.default_hooks.checkpoint = dict(type='RMTCheckpointHook',
                                        interval=-1, save_last=False)
    cfg.default_hooks.logger.interval = 50
    apply_global_batch_size(cfg, 1)
    if variant in VARIANTS:
        VARIANTS[variant].apply(cfg)
    resolve_lam(cfg)
    check_train_config(cfg)
    return cfg


def run_one(root: str, data_root: str, variant: str, task: str, shots: int,
            seed: int) -> dict:
    """Trains (unless zero-shot) and evaluates one run; writes and returns
    its result."""
    import torch
    from mmengine.runner import Runner
    torch.set_num_threads(1)
    folder = run_folder(root, variant, task, shots, seed)
    os.makedirs(folder, exist_ok=True)
    cfg = build_config(variant, task, shots, seed, data_root, folder)
    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    if variant != ZERO_SHOT:
        runner.train()
    val = runner.val()['accuracy/top1']
    test = runner.test()['accuracy/top1']
    backbone = runner.model.backbone
    result = dict(variant=variant, task=task, shots=shots, seed=seed,
                  val_top1=val, test_top1=test,
                  sparsity=100 * backbone.sparsity()['overall'],
                  epochs=cfg.train_cfg.max_epochs,
                  seconds=round(time.perf_counter() - start, 1))
    with open(osp.join(folder, RESULT_FILE), 'w') as file:
        json.dump(result, file, indent=1)
    return result


def _read(folder: str) -> Optional[dict]:
    path = osp.join(folder, RESULT_FILE)
    if not osp.isfile(path):
        return None
    with open(path) as file:
        return json.load(file)


def run_study(root: str, data_root: str, variants: Sequence[str],
              tasks: Sequence[str], shots: Sequence[int],
              seeds: Sequence[int], jobs: int = 2,
              log: Callable[[str], None] = print) -> List[dict]:
    """Runs every missing run of the grid, ``jobs`` at a time (one torch
    thread each), and returns all results."""
    from .tasks import write_task
    for task in tasks:
        write_task(data_root, task)
    grid = [(v, t, k, s) for v in (ZERO_SHOT, *variants) for t in tasks
            for k in shots for s in seeds]
    todo = [args for args in grid
            if _read(run_folder(root, *args)) is None]
    log(f'{len(grid) - len(todo)} of {len(grid)} runs done; running '
        f'{len(todo)} with {jobs} job(s).')
    with ProcessPoolExecutor(jobs) as pool:
        futures = [pool.submit(run_one, root, data_root, *args)
                   for args in todo]
        for future in futures:
            r = future.result()
            log(f"{r['variant']} {r['task']} {r['shots']} shots seed "
                f"{r['seed']}: val {r['val_top1']:.2f} test "
                f"{r['test_top1']:.2f} sparsity {r['sparsity']:.2f} "
                f"({r['seconds']:.0f} s)")
    return [r for r in map(lambda a: _read(run_folder(root, *a)), grid) if r]


def study_table(results: List[dict], metric: str) -> str:
    """Markdown: one row per variant and task, one column per shot count,
    ``metric`` (``val_top1``, ``test_top1`` or ``sparsity``) as mean ± std
    over seeds."""
    variants = list(dict.fromkeys(r['variant'] for r in results))
    tasks = list(dict.fromkeys(r['task'] for r in results))
    shots = sorted({r['shots'] for r in results})
    seeds = len({r['seed'] for r in results})
    lines = ['| variant | task | ' + ' | '.join(f'{k} shots' for k in shots)
             + ' |', '| --- | --- |' + ' ---: |' * len(shots)]
    for variant in variants:
        for task in tasks:
            cells = []
            for k in shots:
                values = [r[metric] for r in results
                          if (r['variant'], r['task'], r['shots']) ==
                          (variant, task, k)]
                cells.append(mean_std(values, seeds))
            lines.append(f'| {variant} | {task} | ' + ' | '.join(cells)
                         + ' |')
    return '\n'.join(lines)
