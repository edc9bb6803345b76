"""One run's recipe from its shots and seed: the few-shot subsets, the
seed, the data folder, the gradient-dropout lambda and, below 16 shots,
the low-shot recipe (staggered initial mask scores).

``tools/train.py``, ``tools/test.py`` and ``tools/sweep.py`` apply it with
``--shots K --seed S --data-root DIR``.
"""
import ast
import logging
import os.path as osp
import tempfile
from typing import Any, Collection, Dict, List, Optional

from mmengine.config import Config
from mmengine.logging import print_log

from ..registry import current_name
from .experiments import DATASET_TYPES, gdr_lambda

#: Shots of the paper's published recipe; fewer shots get the low-shot one.
RECIPE_SHOTS = 16
#: The low-shot recipe (docs/method.md section 10, chosen on validation by
#: the study of docs/lowshot_study.md): the paper's schedule, with initial
#: mask scores staggered by the weights' magnitude.
LOW_SHOT_STAGGER = 'magnitude'
#: The config entries the low-shot recipe fills.
LOW_SHOT_KEYS = ('model.backbone.score_stagger', )
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


def low_shot_settings(cfg: Config) -> Dict[str, Any]:
    """What the low-shot recipe sets for ``cfg`` (dotted keys): nothing
    from 16 shots, for every image, or for a model without masks.

    The paper publishes only its 16-shot schedule. Below it, rmt_mm keeps
    that schedule and staggers the initial mask scores by ``|W|``
    (:data:`LOW_SHOT_STAGGER`), the recipe chosen on validation by the
    low-shot study (docs/method.md section 10).
    """
    shots = cfg.train_dataloader.dataset.get('num_shots', -1)
    backbone = cfg.get('model', {}).get('backbone', {})
    if not 0 < shots < RECIPE_SHOTS or backbone.get('mask_targets',
                                                    'paper') is None:
        return {}
    return dict(zip(LOW_SHOT_KEYS, (LOW_SHOT_STAGGER, )))


def apply_low_shot_recipe(cfg: Config,
                          explicit: Collection[str] = ()) -> None:
    """Applies :func:`low_shot_settings` to ``cfg``, except for the keys in
    ``explicit`` (set by the user's config or ``--cfg-options``): those are
    kept, and a warning names both values."""
    settings = low_shot_settings(cfg)
    if not settings:
        return
    shots = cfg.train_dataloader.dataset.num_shots
    for key, value in settings.items():
        current = _lookup(cfg, key)
        if key not in explicit:
            cfg.merge_from_dict({key: value})
        elif current != value:
            print_log(
                f'Low-shot recipe ({shots} shots): keeping {key}='
                f'{current!r} from your config (the recipe would set '
                f'{value!r}).', logger='current', level=logging.WARNING)
    print_log(
        f'Low-shot recipe ({shots} shots): initial mask scores staggered by '
        f'{_lookup(cfg, "model.backbone.score_stagger")!r}, the schedule '
        f'kept ({cfg.train_cfg.max_epochs} epochs at lr '
        f'{cfg.optim_wrapper.optimizer.lr:g}; docs/method.md section 10).',
        logger='current')


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
    """The paper's dataset name for a dataset type, old names included (the
    type itself for datasets outside the paper or without a type)."""
    names = {kind: name for name, kind in DATASET_TYPES.items()}
    return names.get(current_name(dataset_type), dataset_type)


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
