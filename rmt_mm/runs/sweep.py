"""Runs R-AMT over datasets x shots x seeds and tests every run.

Each run trains with ``tools/train.py --shots K --seed S`` (or
``tools/dist_train.sh`` with ``--gpus N``) in
``<work-root>/<dataset>/shots_<K>/seed_<S>/``: the training script sets the
few-shot subsets, the seed, the gradient-dropout lambda (method.md section
5) and, below 16 shots, the low-shot schedule. Then ``tools/test.py --seed
S --out metrics.json`` evaluates ``masks_final.pth``. A run whose metrics
files all exist is skipped, so a stopped sweep continues where it was when
started again with the same arguments: an interrupted training resumes from
its newest intact checkpoint (``--resume``), or starts over when it saved
none. A metrics file that is empty, not JSON or holds a non-finite number
does not count: its test runs again, and the sweep says so. Each run folder
records the settings (command lines) of its finished steps in
``sweep_settings.json`` (written atomically): a test made with other
settings is run again, and a training made with other settings stops the
sweep before it starts. ``--data-root DIR`` is passed to every command;
paths with spaces reach the tools whole.

Other protocols:

- ``--zero-shot``: also tests CLIP without masks once per dataset
  (``<dataset>/zero_shot/metrics.json``).
- ``--base-to-new``: trains on the base half of the classes and tests on
  the base and the new half (``<dataset>/base2new/shots_<K>/seed_<S>/
  metrics_{base,new}.json``); lambda is 1.0.
- ``--imagenet-variants``: tests the masks of the ``imagenet`` runs (and
  zero-shot CLIP) on ImageNet-V2/-Sketch/-A/-R as well
  (``metrics_imagenet_{v2,sketch,a,r}.json``). The test set is swapped with
  ``--cfg-options``: the keys of ``test_dataloader.dataset`` in
  ``configs/_base_/datasets/imagenet_{v2,sketch,a,r}.py`` that differ from
  the ImageNet config's (type and data_root).

Where the runs go (rmt_mm/runs/sweep_launchers/):

- ``--launcher local`` (default): on this machine, one run after another,
  or ``--jobs N`` runs at once, each on its own GPU(s), or without GPUs on
  its share of the CPU threads.
- ``--launcher slurm``: one submitit job per run (its training, then its
  tests), as job arrays; the job ids are printed and the command returns.
  A job plans its run again when it starts and, preempted or out of time,
  is requeued and resumes. GPUs, CPUs, memory and time default to what the
  run's dataset needs (``--gpus``, the loaders' workers, the estimated
  training time); a ``slurm = dict(...)`` section of a config (submitit
  parameters such as ``partition``, ``timeout_min``, ``mem_gb``, ``qos``,
  ``setup``) and the ``--slurm-*`` flags change them, the flags last. Runs
  whose job is queued or running are not submitted again; failed ones are.
  ``--launcher submitit-local`` runs the same jobs on this machine through
  submitit's local executor and waits for them.
- ``--status``: the grid, one run per line (pending, running, finished, or
  failed with the last error line of its log), and the ETA.
- ``--dry-run``: the commands, and the optimiser updates and GPU-hours of
  the trainings to do at ``--step-seconds`` per update.

Examples::

    python tools/sweep.py --datasets dtd eurosat --shots 1 2 4 8 16 \\
        --seeds 1 2 3 --zero-shot
    python tools/sweep.py --datasets imagenet --shots 16 \\
        --imagenet-variants --zero-shot --gpus 4
    python tools/sweep.py --configs digits=configs/demo/rmt_tiny_digits.py \\
        --shots 1 2 4 --seeds 1 2 --zero-shot --dry-run
    python tools/sweep.py --datasets dtd eurosat --zero-shot --jobs 4
    python tools/sweep.py --datasets imagenet caltech101 oxford_pets \\
        stanford_cars flowers102 food101 fgvc_aircraft sun397 dtd eurosat \\
        ucf101 --zero-shot --launcher slurm --slurm-partition gpu
    python tools/sweep.py --datasets dtd eurosat --zero-shot --status
"""
import argparse
import functools
import math
import os
import os.path as osp
import shlex
import shutil
import signal
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

from ..datasets.samplers import updates_per_epoch
from ..engine.hooks.mask_file_hook import FINAL_MASK_FILE
from ..fileio.config_file import read_config
from ..fileio.side_files import read_json, write_json
from .experiments import (IMAGENET_VARIANTS, METHODS, PAPER_DATASETS, Method,
                          method_root, metrics_path, run_dir, zero_shot_dir)
from .sweep_launchers import (Run, Step, default_job, describe_groups,
                              estimate, execute_local, grid_status,
                              job_parameters, output_problem, submit)
from .work_dir import list_checkpoints

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: The repository's tools and the ImageNet variants' dataset configs.
TOOLS_DIR = osp.join(REPO, 'tools')
VARIANT_CONFIG = osp.join(REPO, 'configs', '_base_', 'datasets', '{}.py')
#: ``{output file name: settings}`` of the finished steps of a run folder.
SETTINGS_FILE = 'sweep_settings.json'


class StaleRunError(ValueError):
    """A run folder holds results of other settings."""


@dataclass
class Experiment:
    """One dataset x method of the sweep and the parts of its config the
    plan needs.

    Attributes:
        name: Folder name below the sweep root; ``imagenet`` enables
            ``--imagenet-variants``.
        config: The config file.
        has_val: Whether the config has a ``val_dataloader``.
        test_dataset: The config's ``test_dataloader.dataset``.
        method: Key of :data:`METHODS`.
        max_epochs: The config's ``train_cfg.max_epochs``.
        classes: Classes of its dataset (0 when unknown).
        batch: Images per optimiser update (``global_batch_size``, else
            the training loader's ``batch_size``).
        workers: Data loader workers (the most of any loader).
        slurm: The config's ``slurm`` section (submitit job parameters).
    """
    name: str
    config: str
    has_val: bool
    test_dataset: dict
    method: str = 'rmt'
    max_epochs: int = 0
    classes: int = 0
    batch: int = 0
    workers: int = 0
    slurm: Dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> Method:
        return METHODS[self.method]

    def epochs(self, shots: int) -> int:
        """Training epochs of a run with ``shots`` (CoOp's per-shot rule on
        the paper's datasets except ImageNet)."""
        rule = self.spec.epochs_per_shots
        if rule and self.name in PAPER_DATASETS and self.name != 'imagenet':
            return rule.get(shots, self.max_epochs)
        return self.max_epochs

    def updates(self, shots: int, base_to_new: bool = False) -> int:
        """Optimiser updates of a training on ``shots`` images per class
        (of the base half of the classes with ``base_to_new``); 0 for a
        method without training or a dataset of unknown size."""
        if not self.spec.trains or not self.classes or not self.batch:
            return 0
        classes = math.ceil(self.classes / 2) if base_to_new \
            else self.classes
        return self.epochs(shots) * updates_per_epoch(shots * classes,
                                                      self.batch)


def config_specs(args: argparse.Namespace,
                 method: str = 'rmt') -> List[Tuple[str, str]]:
    """``(name, config path)`` of every dataset of ``method``, in
    command-line order."""
    template = args.config_template or METHODS[method].config
    specs = [(name, template.format(dataset=name, method=method))
             for name in args.datasets]
    for spec in args.configs:
        name, sep, path = spec.partition('=')
        if not sep:
            name, path = osp.splitext(osp.basename(spec))[0], spec
        specs.append((name, path))
    names = [name for name, _ in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f'Dataset names must be unique; {duplicates} '
                         'repeat. Name configs with NAME=CONFIG.')
    return specs


def load_experiment(name: str, config: str,
                    method: str = 'rmt') -> Experiment:
    """Reads what the plan needs from ``config``."""
    if not osp.isfile(config):
        raise FileNotFoundError(f'Config {config!r} (dataset {name!r}, '
                                f'method {method!r}) does not exist.')
    cfg = read_config(config, import_custom_modules=False)
    train_loader = cfg.get('train_dataloader') or {}
    test_loader = cfg.get('test_dataloader') or {}
    slurm = cfg.get('slurm')
    return Experiment(
        name=name,
        config=config,
        has_val=bool(cfg.get('val_dataloader')),
        test_dataset=dict(test_loader.get('dataset') or {}),
        method=method,
        max_epochs=int((cfg.get('train_cfg') or {}).get('max_epochs', 0)),
        classes=class_count(cfg),
        batch=int(cfg.get('global_batch_size') or
                  train_loader.get('batch_size', 0)),
        workers=max(int(loader.get('num_workers', 0))
                    for loader in (train_loader, test_loader)),
        slurm=slurm.to_dict() if slurm else {})


def class_count(cfg: Config) -> int:
    """Classes of a config's dataset: ``data_preprocessor.num_classes``,
    else the class folders of an image folder's ``train`` split (or of a
    flat image folder); 0 when unknown."""
    classes = (cfg.get('data_preprocessor') or {}).get('num_classes')
    if classes:
        return int(classes)
    train = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    root = train.get('data_root')
    if not root or not osp.isdir(root):
        return 0
    split = osp.join(root, 'train')
    folder = split if osp.isdir(split) else root
    return sum(1 for entry in os.scandir(folder) if entry.is_dir() and
               not entry.name.startswith(('.', 'split_')))


def variant_datasets() -> Dict[str, dict]:
    """``test_dataloader.dataset`` of each ImageNet variant's config."""
    datasets = {}
    for variant in IMAGENET_VARIANTS:
        cfg = read_config(
            VARIANT_CONFIG.format(variant), import_custom_modules=False)
        datasets[variant] = dict(cfg.test_dataloader.dataset)
    return datasets


def options(values: Dict[str, object]) -> List[str]:
    """``key=value`` strings for ``--cfg-options``."""
    return [f'{key}={value}' for key, value in values.items()]


def run_flags(shots: Optional[int], seed: int,
              args: argparse.Namespace) -> List[str]:
    """The switches that make a config one run of the sweep."""
    flags = [] if shots is None else ['--shots', str(shots)]
    flags += ['--seed', str(seed)]
    if args.data_root is not None:
        flags += ['--data-root', args.data_root]
    return flags


def train_options(exp: Experiment, shots: int,
                  args: argparse.Namespace) -> List[str]:
    """The ``--cfg-options`` of a training beyond its shots and seed
    (``--lam`` only for methods with masks; CoOp's epochs per shot
    count)."""
    values: Dict[str, object] = {}
    if args.base_to_new:
        for loader in ['train_dataloader'] + (['val_dataloader']
                                              if exp.has_val else []):
            values[f'{loader}.dataset.subsample'] = 'base'
    if args.lam is not None and exp.spec.masks:
        values['optim_wrapper.lam'] = args.lam
    epochs = exp.epochs(shots)
    if exp.spec.trains and epochs != exp.max_epochs:
        # CoOp's schedule: warm-up epoch, then cosine to the last epoch.
        values['train_cfg.max_epochs'] = epochs
        values['train_cfg.val_interval'] = epochs
        values['param_scheduler.1.end'] = epochs
        values['param_scheduler.1.T_max'] = epochs - 1
    return options(values)


def eval_options(exp: Experiment, target: Optional[str],
                 variants: Dict[str, dict],
                 data_root: Optional[str] = None) -> List[str]:
    """The ``--cfg-options`` that point the test set at ``target`` (a
    variant's folder moves below ``data_root`` like ``--data-root`` moves
    the others)."""
    if target is None:
        return []
    if target in ('base', 'new'):
        return options({'test_dataloader.dataset.subsample': target})
    changed = {
        f'test_dataloader.dataset.{key}': value
        for key, value in variants[target].items()
        if key != 'pipeline' and exp.test_dataset.get(key) != value
    }
    key = 'test_dataloader.dataset.data_root'
    if data_root is not None and key in changed:
        changed[key] = osp.join(data_root, osp.basename(changed[key]))
    return options(changed)


def eval_targets(exp: Experiment,
                 args: argparse.Namespace) -> List[Optional[str]]:
    """What the masks (or zero-shot CLIP) of ``exp`` are tested on."""
    if args.base_to_new:
        return ['base', 'new']
    targets: List[Optional[str]] = [None]
    if args.imagenet_variants and exp.name == 'imagenet':
        targets += list(IMAGENET_VARIANTS)
    return targets


def training_state(work_dir: str, final: str = FINAL_MASK_FILE
                   ) -> Tuple[str, Optional[str]]:
    """Where the training of a run stands.

    Args:
        work_dir: The run folder.
        final: The file a finished training leaves (the final masks, or the
            last epoch's checkpoint of a method without masks).

    Returns:
        ``('done', None)`` once ``final`` is saved, ``('resume',
        newest checkpoint)`` when an interrupted run left checkpoints (the
        training resumes from the newest intact one), else ``('start',
        None)``.
    """
    if osp.isfile(osp.join(work_dir, final)):
        return 'done', None
    checkpoints = list_checkpoints(work_dir)
    if checkpoints:
        return 'resume', checkpoints[0]
    return 'start', None


def step_settings(step: Step, work_dir: str) -> List[str]:
    """What decides a step's result: its command line without the
    interpreter, ``--resume`` and the temporary ``--out``, with paths in the
    tools folder and the run folder written relative to them."""
    settings, skip = [], False
    for arg in step.cmd:
        if skip or arg in (sys.executable, '--resume', '--out'):
            skip = arg == '--out'
            continue
        for root, name in ((work_dir, '{run}'), (TOOLS_DIR, '{tools}')):
            if arg == root or arg.startswith(root + os.sep):
                arg = name + arg[len(root):]
        settings.append(arg)
    return settings


def recorded_settings(work_dir: str) -> Dict[str, List[str]]:
    """``{output file name: settings}`` of a run folder's finished steps."""
    path = osp.join(work_dir, SETTINGS_FILE)
    if not osp.isfile(path):
        return {}
    return read_json(
        path, 'Delete it: the outputs of the run folder then count as made '
        'with these settings; or delete the run folder to run it again.')


def record_settings(step: Step, work_dir: str) -> None:
    """Notes the settings of a step that just succeeded."""
    record = recorded_settings(work_dir)
    record[osp.basename(step.done_file)] = step_settings(step, work_dir)
    write_json(osp.join(work_dir, SETTINGS_FILE), record)


def step_state(step: Step, work_dir: str) -> str:
    """``'todo'`` (also when the output is damaged), ``'done'`` (with
    these settings, or recorded before settings were), or ``'other'``
    (done with other settings)."""
    if not osp.isfile(step.done_file) or output_problem(step):
        return 'todo'
    recorded = recorded_settings(work_dir).get(osp.basename(step.done_file))
    if recorded is None or recorded == step_settings(step, work_dir):
        return 'done'
    return 'other'


def with_options(cmd: List[str], cfg_options: List[str]) -> List[str]:
    return cmd + (['--cfg-options'] + cfg_options if cfg_options else [])


def train_command(exp: Experiment, work_dir: str, flags: List[str],
                  cfg_options: List[str], args: argparse.Namespace,
                  resume: Optional[str]) -> List[str]:
    if args.gpus > 1:
        cmd = ['bash', osp.join(TOOLS_DIR, 'dist_train.sh'), exp.config,
               str(args.gpus)]
    else:
        cmd = [sys.executable, osp.join(TOOLS_DIR, 'train.py'), exp.config]
    cmd += ['--work-dir', work_dir] + (['--resume'] if resume else [])
    cmd += flags + shlex.split(args.train_args)
    return with_options(cmd, cfg_options)


def eval_step(exp: Experiment, folder: str, checkpoint: Optional[str],
              target: Optional[str], flags: List[str],
              cfg_options: List[str]) -> Step:
    done = metrics_path(folder, target)
    out = osp.splitext(done)[0] + '.partial.json'
    cmd = [sys.executable, osp.join(TOOLS_DIR, 'test.py'), exp.config]
    cmd += [checkpoint] if checkpoint else []
    cmd += ['--work-dir', osp.join(folder, 'eval'), '--out', out] + flags
    return Step('test', with_options(cmd, cfg_options), done, out)


def final_file(exp: Experiment, shots: int) -> str:
    """What a run's test loads: R-AMT's mask file, else the checkpoint of
    the last epoch (it holds the CoOp context, the cache, the masks)."""
    if exp.method == 'rmt':
        return FINAL_MASK_FILE
    return f'epoch_{exp.epochs(shots)}.pth'


def run_steps(exp: Experiment, folder: str, shots: int, seed: int,
              args: argparse.Namespace, variants: Dict[str, dict]
              ) -> Tuple[List[Step], bool]:
    """The missing steps of one run of ``exp``, and whether its folder holds
    a training made with other settings (then no step is planned)."""
    options_ = train_options(exp, shots, args)
    if not exp.spec.trains:
        # Tip-Adapter: the test builds the cache of this run's shots.
        tests = [eval_step(exp, folder, None, t, run_flags(shots, seed, args),
                           eval_options(exp, t, variants, args.data_root) +
                           options_ + args.cfg_options)
                 for t in eval_targets(exp, args)]
        return [s for s in tests if step_state(s, folder) != 'done'], False
    final = osp.join(folder, final_file(exp, shots))
    # A CLIP without pretrained weights (tiny demo models) is initialised
    # from the seed: test the network that trained.
    tests = [eval_step(exp, folder, final, t, run_flags(None, seed, args),
                       eval_options(exp, t, variants, args.data_root) +
                       args.cfg_options) for t in eval_targets(exp, args)]
    steps = [s for s in tests if step_state(s, folder) != 'done']
    state, checkpoint = training_state(folder, osp.basename(final))
    train = Step(
        'train',
        train_command(exp, folder, run_flags(shots, seed, args),
                      options_ + args.cfg_options, args, checkpoint),
        final)
    if step_state(train, folder) == 'other':
        return [], True
    if steps and state != 'done':
        steps.insert(0, train)
    return steps, False


def slurm_flags(args: argparse.Namespace) -> Dict[str, Any]:
    """The job parameters given on the command line (``--slurm-*``)."""
    flags = dict(slurm_partition=args.slurm_partition,
                 slurm_account=args.slurm_account,
                 gpus_per_node=args.slurm_gpus,
                 cpus_per_task=args.slurm_cpus, mem_gb=args.slurm_mem_gb,
                 timeout_min=args.slurm_time)
    return {key: value for key, value in flags.items() if value is not None}


def job_of(exp: Experiment, updates: int,
           args: argparse.Namespace) -> Dict[str, Any]:
    """The submitit job parameters of a run of ``exp`` whose training makes
    ``updates`` updates: defaults from the dataset, then the config's
    ``slurm`` section, then the ``--slurm-*`` flags.

    Raises:
        ValueError: If a job to submit would get fewer GPUs than
            ``--gpus``.
    """
    params = job_parameters(
        default_job(args.gpus, exp.workers, updates, args.step_seconds),
        exp.slurm, slurm_flags(args))
    if args.launcher != 'local' and params['gpus_per_node'] < args.gpus:
        raise ValueError(
            f'A run trains in --gpus {args.gpus} processes, but its job '
            f'would get {params["gpus_per_node"]} GPU(s) ({exp.config}): '
            'raise --slurm-gpus or the slurm section\'s gpus_per_node.')
    return params


def plan_grid(experiments: Sequence[Experiment], args: argparse.Namespace,
              variants: Dict[str, dict],
              zero_shot: Optional[Sequence[Experiment]] = None
              ) -> List[Run]:
    """Every run of the sweep, each with only its missing steps.

    A step counts as finished when its output exists and was made with
    the settings it would be made with now; a finished run has no steps. A
    run whose folder holds a training made with other settings is marked
    stale, with no steps. Each run's job parameters allow for the largest
    training of its dataset (one job array per dataset).

    Args:
        experiments: Every dataset x method, grouped by dataset.
        args: The command line.
        variants: ImageNet variants' test datasets.
        zero_shot: The experiments whose configs (without checkpoint) test
            zero-shot CLIP, one per dataset; default: ``experiments``.

    Returns:
        The runs, in order.
    """
    runs = []
    zero_shot = {e.name: e for e in reversed(zero_shot or experiments)}
    done_zero_shot = set()
    for exp in experiments:
        if args.zero_shot and exp.name not in done_zero_shot:
            done_zero_shot.add(exp.name)
            base = zero_shot[exp.name]
            folder = zero_shot_dir(args.work_root, exp.name, args.base_to_new)
            zero_flags = [] if args.data_root is None else [
                '--data-root', args.data_root]
            tests = [
                eval_step(base, folder, None, t, zero_flags,
                          eval_options(base, t, variants, args.data_root) +
                          args.cfg_options) for t in eval_targets(base, args)
            ]
            runs.append(Run(
                f'{exp.name} zero-shot', folder,
                [step for step in tests
                 if step_state(step, folder) != 'done'],
                experiment=exp.name, job=job_of(base, 0, args)))
        root = method_root(args.work_root, exp.method)
        prefix = '' if exp.method == 'rmt' else f'{exp.method} '
        job = job_of(exp, max(exp.updates(k, args.base_to_new)
                              for k in args.shots), args)
        for shots in args.shots:
            for seed in args.seeds:
                folder = run_dir(root, exp.name, shots, seed,
                                 args.base_to_new)
                steps, stale = run_steps(exp, folder, shots, seed, args,
                                         variants)
                runs.append(Run(
                    f'{prefix}{exp.name} shots={shots} seed={seed}', folder,
                    steps, experiment=f'{prefix}{exp.name}',
                    updates=exp.updates(shots, args.base_to_new), job=job,
                    stale=stale))
    return runs


def unfinished(grid: Sequence[Run]) -> Tuple[List[Run], int]:
    """The runs of a grid still to do, and the number of finished ones.

    Raises:
        StaleRunError: If a run folder holds a training made with other
            settings.
    """
    stale = [f'{run.label} ({run.work_dir})' for run in grid if run.stale]
    if stale:
        raise StaleRunError(
            'These runs were trained with other settings than this sweep '
            "gives them (see each folder's " + SETTINGS_FILE + '): ' +
            '; '.join(stale) + '. Give this sweep its own --work-root, or '
            'delete those folders to train them again.')
    runs = [run for run in grid if run.steps]
    return runs, len(grid) - len(runs)


def plan_runs(experiments: Sequence[Experiment], args: argparse.Namespace,
              variants: Dict[str, dict],
              zero_shot: Optional[Sequence[Experiment]] = None
              ) -> Tuple[List[Run], int]:
    """:func:`unfinished` of :func:`plan_grid`: the runs to do, in order,
    and the number of finished runs."""
    return unfinished(plan_grid(experiments, args, variants, zero_shot))


def sweep_grid(args: argparse.Namespace) -> List[Run]:
    """:func:`plan_grid` for the command line: every method's config of
    every dataset, dataset by dataset."""
    per_method = {m: [load_experiment(n, c, m)
                      for n, c in config_specs(args, m)]
                  for m in args.methods}
    experiments = [per_method[m][i] for i in range(len(per_method[
        args.methods[0]])) for m in args.methods]
    # R-AMT's config without masks is zero-shot CLIP; else its own config.
    zero_shot = per_method.get('rmt')
    if args.zero_shot and zero_shot is None:
        zero_shot = [load_experiment(n, c, 'zero_shot')
                     for n, c in config_specs(args, 'zero_shot')]
    variants = variant_datasets() if args.imagenet_variants else {}
    return plan_grid(experiments, args, variants, zero_shot)


def plan_sweep(args: argparse.Namespace) -> Tuple[List[Run], int]:
    """The runs of the command line still to do, and the number of
    finished ones (:func:`unfinished` of :func:`sweep_grid`)."""
    return unfinished(sweep_grid(args))


def replan_run(args: argparse.Namespace, work_dir: str) -> Run:
    """The run of ``work_dir`` planned again from its folder: what a job
    does when it starts or is requeued.

    Raises:
        StaleRunError: If the folder holds a training made with other
            settings.
        ValueError: If the sweep has no run there.
    """
    for run in sweep_grid(args):
        if run.work_dir == work_dir:
            unfinished([run])  # refuses a stale folder, naming it
            return run
    raise ValueError(f'The sweep has no run in {work_dir!r}.')


def execute(runs: Sequence[Run], fail_fast: bool, jobs: int = 1,
            gpus: int = 1) -> List[str]:
    """Runs the plan on this machine, ``jobs`` runs at a time, printing
    progress; returns the failed runs."""
    return execute_local(runs, record_settings, fail_fast, jobs, gpus)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def check_cluster(launcher: str) -> None:
    """Refuses ``--launcher slurm`` where slurm's commands are missing."""
    if launcher != 'slurm':
        return
    missing = [cmd for cmd in ('sbatch', 'srun') if shutil.which(cmd) is None]
    if missing:
        raise ValueError(
            f'--launcher slurm submits with slurm\'s {" and ".join(missing)}'
            ', not found here: run the sweep on a machine of the cluster '
            '(--launcher submitit-local runs the same jobs on this one).')


def run_sweep(args: argparse.Namespace) -> int:
    """Shows the grid (``--status``), or plans the sweep of the command line
    and runs, submits or (``--dry-run``) prints its unfinished runs; the
    exit code."""
    if args.status:
        for line in grid_status(sweep_grid(args), args.work_root):
            print(line)
        return 0
    try:
        runs, finished = plan_sweep(args)
    except StaleRunError as error:
        print(f'Error: {error}')
        return 1
    print(f'{len(runs) + finished} run(s): {finished} finished, '
          f'{len(runs)} to do.')
    for step in (s for run in runs for s in run.steps):
        problem = osp.isfile(step.done_file) and output_problem(step)
        if problem:
            print(f'{problem} Testing again.')
    if args.dry_run:
        for index, run in enumerate(runs, 1):
            print(f'[{index}/{len(runs)}] {run.label}')
            for step in run.steps:
                print(f'    {shlex.join(step.cmd)}')
        for line in estimate(runs, args.step_seconds, args.gpus):
            print(line)
        if args.launcher != 'local':
            for line in describe_groups(runs):
                print(f'{args.launcher} {line}')
        return 0
    if args.launcher != 'local':
        check_cluster(args.launcher)
        return submit(runs, args.launcher, args.work_root,
                      functools.partial(replan_run, args), record_settings,
                      args.gpus)
    # Stopped by a scheduler: end the running commands too.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        failed = execute(runs, args.fail_fast, args.jobs, args.gpus)
    except KeyboardInterrupt:
        print('\nInterrupted; run the same command again to continue.')
        return 130
    if failed:
        print('Failed: ' + '; '.join(failed))
        return 1
    return 0
