"""One run's recipe from its shots and seed: the few-shot subsets, the
seed, the data folder, the gradient-dropout lambda and, below 16 shots, a
schedule long enough for the masks to learn.

``tools/train.py``, ``tools/test.py`` and ``tools/sweep.py`` apply it with
``--shots K --seed S --data-root DIR``.
"""
import ast
import logging
import math
import os.path as osp
import tempfile
from typing import Any, Collection, Dict, List, Optional

from mmengine.config import Config
from mmengine.logging import print_log

from ..datasets.samplers import updates_per_epoch
from .experiments import DATASET_TYPES, gdr_lambda

#: Shots of the paper's published recipe; fewer shots get the low-shot one.
RECIPE_SHOTS = 16
#: The low-shot recipe (docs/method.md section 10, chosen on validation by
#: the study of docs/lowshot_study.md): learning rates summing to this many
#: times the distance a mask score must move to flip its entry, ...
LOW_SHOT_MARGIN = 4.0
#: ... initial scores staggered by the weights' magnitude ...
LOW_SHOT_STAGGER = 'magnitude'
#: ... and the epoch best on validation kept, zero-shot CLIP included.
LOW_SHOT_SELECTION = 'best_val'
#: The config entries the low-shot recipe fills.
LOW_SHOT_KEYS = ('train_cfg.max_epochs', 'model.backbone.score_stagger',
                 'model_selection')
#: ``MaskedCLIP``'s defaults, used when the config does not set them.
DEFAULT_SCORE_INIT = 1e-2
DEFAULT_THRESHOLD = 5e-3
AUTO = 'auto'
FEWSHOT_LOADERS = ('train_dataloader', 'val_dataloader')
ALL_LOADERS = FEWSHOT_LOADERS + ('test_dataloader', )


def _datasets(cfg: Config, loaders) -> list:
    return [cfg[name].dataset for name in loaders if cfg.get(name)]


def set_shots_and_seed(cfg: Config,
                       shots: Optional[int] = None,
                       seed: Optional[int] = None,
                       data_root: Optional[str] = None) -> None:
    """Applies ``--shots``, ``--seed`` and ``--data-root`` to ``cfg``.

    Args:
        cfg: The config; changed in place.
        shots: Images per class of the training subset (the validation
            subset follows it, as in CoOp).
        seed: Seed of the few-shot draw and of ``randomness.seed``.
        data_root: The folder holding the datasets, like CoOp's ``$DATA``:
            every loader's ``data_root`` keeps its folder name and moves
            below it (``data/dtd`` becomes ``DIR/dtd``).
    """
    if shots is not None:
        if shots < 1:
            raise ValueError(f'--shots must be positive, got {shots}.')
        for dataset in _datasets(cfg, FEWSHOT_LOADERS):
            dataset.num_shots = shots
    if seed is not None:
        for dataset in _datasets(cfg, FEWSHOT_LOADERS):
            dataset.seed = seed
        cfg.randomness = dict(cfg.get('randomness') or {}, seed=seed)
    if data_root is not None:
        for dataset in _datasets(cfg, ALL_LOADERS):
            if 'data_root' not in dataset:
                raise ValueError(
                    f'--data-root: the dataset {dataset.get("type")!r} has '
                    'no data_root to move.')
            folder = osp.basename(osp.normpath(dataset.data_root))
            dataset.data_root = osp.join(data_root, folder)


def flip_distance(cfg: Config) -> float:
    """How far a mask score moves before its entry flips:
    ``|score_init - threshold|`` of the config's ``MaskedCLIP``."""
    backbone = cfg.get('model', {}).get('backbone', {})
    return abs(
        backbone.get('score_init', DEFAULT_SCORE_INIT) -
        backbone.get('threshold', DEFAULT_THRESHOLD))


def low_shot_epochs(lr: float, updates: int, distance: float,
                    min_epochs: int, margin: float = LOW_SHOT_MARGIN) -> int:
    """Fewest epochs, at least ``min_epochs``, after which the learning
    rates of a per-epoch cosine schedule from ``lr`` to 0 sum to ``margin *
    distance``.

    Epoch ``e`` of ``E`` runs at ``lr * (1 + cos(pi * e / E)) / 2`` and the
    cosines of ``e = 0 .. E-1`` add up to 1, so ``updates`` per epoch sum to
    ``lr * updates * (E + 1) / 2``.
    """
    ratio = round(2 * margin * distance / (lr * updates), 9)
    return max(min_epochs, math.ceil(ratio) - 1)


def train_set_size(cfg: Config) -> int:
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


def low_shot_settings(cfg: Config) -> Dict[str, Any]:
    """What the low-shot recipe sets for ``cfg`` (dotted keys), or nothing
    from 16 shots, for every image, or for a model without masks.

    The paper publishes only its 16-shot schedule; below it rmt_mm uses
    the recipe chosen on validation by the low-shot study (docs/method.md
    section 10): initial scores staggered by ``|W|``
    (:data:`LOW_SHOT_STAGGER`), the fewest epochs (never fewer than the
    config's) whose learning rates sum to :data:`LOW_SHOT_MARGIN` times
    :func:`flip_distance` at the config's lr, global batch and cosine
    schedule (:func:`low_shot_epochs`), and the epoch best on validation
    kept, zero-shot CLIP included (:data:`LOW_SHOT_SELECTION`).
    """
    shots = cfg.train_dataloader.dataset.get('num_shots', -1)
    backbone = cfg.get('model', {}).get('backbone', {})
    if not 0 < shots < RECIPE_SHOTS or backbone.get('mask_targets',
                                                    'paper') is None:
        return {}
    global_batch = cfg.get('global_batch_size') or \
        cfg.train_dataloader.batch_size
    updates = updates_per_epoch(train_set_size(cfg), global_batch)
    epochs = low_shot_epochs(cfg.optim_wrapper.optimizer.lr, updates,
                             flip_distance(cfg), cfg.train_cfg.max_epochs)
    return dict(zip(LOW_SHOT_KEYS, (epochs, LOW_SHOT_STAGGER,
                                    LOW_SHOT_SELECTION)))


def apply_low_shot_recipe(cfg: Config,
                          explicit: Collection[str] = ()) -> None:
    """Applies :func:`low_shot_settings` to ``cfg``, except for the keys in
    ``explicit`` (set by the user's config or ``--cfg-options``): those are
    kept and the log line names both values. Validation moves to the last
    epoch (the model selection hook validates every epoch where it is
    cheap)."""
    settings = low_shot_settings(cfg)
    if not settings:
        return
    shots = cfg.train_dataloader.dataset.num_shots
    for key, value in settings.items():
        current = _lookup(cfg, key)
        if key in explicit:
            if current != value:
                print_log(
                    f'Low-shot recipe ({shots} shots): keeping {key}='
                    f'{current!r} from your config (the recipe would set '
                    f'{value!r}).', logger='current', level=logging.WARNING)
            continue
        cfg.merge_from_dict({key: value})
    epochs = cfg.train_cfg.max_epochs
    if cfg.train_cfg.get('val_interval'):
        cfg.train_cfg.val_interval = epochs
    global_batch = cfg.get('global_batch_size') or \
        cfg.train_dataloader.batch_size
    updates = updates_per_epoch(train_set_size(cfg), global_batch)
    lr = cfg.optim_wrapper.optimizer.lr
    print_log(
        f'Low-shot recipe ({shots} shots): {updates} update(s) per epoch '
        f'at lr {lr:g} -> {epochs} epochs, learning rates summing to '
        f'{lr * updates * (epochs + 1) / 2:.2e}; initial scores staggered by '
        f'{_lookup(cfg, "model.backbone.score_stagger")}, model selection '
        f'{cfg.get("model_selection", "last")!r} (docs/method.md section '
        '10).', logger='current')


_MISSING = object()


def _lookup(cfg: Config, key: str):
    value = cfg._cfg_dict
    for part in key.split('.'):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


#: Our shared configs: what they set counts as unset for the recipe.
SHARED_CONFIGS = osp.join(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))), 'configs', '_base_')


def _bases(config_path: str) -> List[str]:
    """The ``_base_`` files of a config file, as absolute paths."""
    with open(config_path, encoding='utf-8') as file:
        tree = ast.parse(file.read(), filename=config_path)
    bases = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '_base_'
                for t in node.targets):
            bases = ast.literal_eval(node.value)
    bases = [bases] if isinstance(bases, str) else list(bases)
    folder = osp.dirname(osp.abspath(config_path))
    return [osp.normpath(osp.join(folder, base)) for base in bases]


def keys_set_by_file(config_path: str, keys: Collection[str]) -> List[str]:
    """Which of ``keys`` (dotted) the config file itself sets, as opposed to
    inheriting them unchanged from its ``_base_`` files."""
    bases = _bases(config_path)
    full = Config.fromfile(config_path)
    inherited = Config()
    if bases:
        with tempfile.TemporaryDirectory() as tmp:
            stub = osp.join(tmp, 'bases_only.py')
            with open(stub, 'w', encoding='utf-8') as file:
                file.write(f'_base_ = {bases!r}\n')
            inherited = Config.fromfile(stub)
    return [k for k in keys if _lookup(full, k) is not _MISSING
            and _lookup(full, k) != _lookup(inherited, k)]


def explicit_keys(config_path: str, keys: Collection[str]) -> List[str]:
    """Which of ``keys`` a config sets anywhere in its inheritance chain
    outside our shared ``configs/_base_/`` files: the values a user (or an
    experiment config such as ImageNet's) chose, which a recipe must not
    replace.

    A user's config that inherits ours and states ``train_cfg =
    dict(max_epochs=4)`` sets ``train_cfg.max_epochs``; the DTD experiment
    config leaves the schedule to ``configs/_base_/schedules``.
    """
    found = set(keys_set_by_file(config_path, keys))
    for base in _bases(config_path):
        if not base.startswith(SHARED_CONFIGS + osp.sep):
            found.update(explicit_keys(base, keys))
    return [k for k in keys if k in found]


def dataset_name(dataset_type: Optional[str]) -> Optional[str]:
    """The paper's dataset name for a dataset type (the type itself for
    datasets outside the paper or without a type)."""
    names = {kind: name for name, kind in DATASET_TYPES.items()}
    return names.get(dataset_type, dataset_type)


def resolve_lam(cfg: Config) -> None:
    """Replaces ``optim_wrapper.lam='auto'`` by the lambda of method.md
    section 5 for the training set's dataset, shots and classes."""
    wrapper = cfg.get('optim_wrapper') or {}
    if wrapper.get('lam') != AUTO:
        return
    dataset = cfg.train_dataloader.dataset
    name = dataset_name(dataset.get('type'))
    shots = dataset.get('num_shots', -1)
    base_to_new = dataset.get('subsample', 'all') != 'all'
    wrapper.lam = gdr_lambda(name, shots, base_to_new)
    print_log(
        f"Gradient dropout lambda 'auto' -> {wrapper.lam} ({name}, "
        f"{'all' if shots == -1 else shots} shots"
        f"{', base-to-new' if base_to_new else ''}; method.md section 5).",
        logger='current')
