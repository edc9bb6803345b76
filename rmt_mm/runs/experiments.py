"""The paper's experiment grid in one place: datasets, shots, seeds, the
gradient-dropout lambda of each run, the sweep's folder layout and the
numbers the paper reports.

``tools/sweep.py`` plans runs from these rules, ``tools/collect_results.py``
reads the folders back and sets the reported numbers beside the measured
ones, and ``tests/test_metafile.py`` checks ``configs/rmt/metafile.yml``
against :data:`REPORTED`.
"""
import math
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Optional

from ..fileio.safe_load import FileRefusedError
from ..fileio.side_files import read_json

#: Column label of each dataset of the paper's tables, keyed by the dataset
#: name used in ``configs/rmt/rmt_vitb16_{dataset}_16shot.py``, in the
#: paper's column order.
PAPER_DATASETS: Dict[str, str] = {
    'fgvc_aircraft': 'FGVCAircraft',
    'imagenet': 'ImageNet',
    'oxford_pets': 'OxfordPets',
    'flowers102': 'Flowers102',
    'eurosat': 'EuroSAT',
    'stanford_cars': 'StanfordCars',
    'caltech101': 'Caltech101',
    'ucf101': 'UCF101',
    'food101': 'Food101',
    'sun397': 'SUN397',
    'dtd': 'DTD',
}

#: Dataset type of each paper dataset, as its
#: ``configs/_base_/datasets/{dataset}.py`` names it.
DATASET_TYPES: Dict[str, str] = {
    'fgvc_aircraft': 'RMTFewShotFGVCAircraft',
    'imagenet': 'RMTFewShotImageNet',
    'oxford_pets': 'RMTFewShotOxfordPets',
    'flowers102': 'RMTFewShotFlowers102',
    'eurosat': 'RMTFewShotEuroSAT',
    'stanford_cars': 'RMTFewShotStanfordCars',
    'caltech101': 'RMTFewShotCaltech101',
    'ucf101': 'RMTFewShotUCF101',
    'food101': 'RMTFewShotFood101',
    'sun397': 'RMTFewShotSUN397',
    'dtd': 'RMTFewShotDTD',
}

#: CoOp's few-shot protocol.
SHOTS = (1, 2, 4, 8, 16)
SEEDS = (1, 2, 3)

#: Datasets whose 16-shot runs use lambda 1.0 instead of 0.3.
LAMBDA_ONE_AT_16_SHOTS = frozenset({'imagenet', 'sun397', 'food101'})

#: Test-only ImageNet variants of the domain-generalisation benchmark; each
#: names ``configs/_base_/datasets/{variant}.py``.
IMAGENET_VARIANTS: Dict[str, str] = {
    'imagenet_v2': 'ImageNet-V2',
    'imagenet_sketch': 'ImageNet-Sketch',
    'imagenet_a': 'ImageNet-A',
    'imagenet_r': 'ImageNet-R',
}

#: Top-1 accuracy (%) reported by the paper for CLIP ViT-B/16, mean of 3
#: seeds: shots -> dataset -> accuracy. Shots 0 is zero-shot CLIP, the
#: others are R-AMT.
REPORTED: Dict[int, Dict[str, float]] = {
    shots: dict(zip(PAPER_DATASETS, row))
    for shots, row in {
        0: (24.72, 66.73, 89.21, 71.34, 47.60, 65.32, 92.94, 66.75, 86.06,
            62.50, 44.39),
        1: (29.47, 69.35, 89.69, 83.14, 61.03, 69.30, 94.15, 74.08, 85.12,
            69.13, 51.28),
        2: (31.72, 69.92, 90.82, 88.41, 69.02, 72.46, 94.61, 77.75, 86.26,
            71.00, 56.32),
        4: (37.33, 70.80, 92.80, 92.80, 81.87, 76.33, 95.63, 81.60, 86.63,
            72.37, 65.27),
        8: (45.40, 71.50, 93.63, 95.57, 82.53, 80.97, 96.10, 84.57, 87.13,
            73.47, 70.20),
        16: (58.47, 73.07, 93.80, 98.17, 91.80, 85.93, 97.00, 86.93, 87.47,
             76.40, 74.57),
    }.items()
}

#: The paper's 11-dataset averages, kept to check :data:`REPORTED`.
REPORTED_AVERAGE: Dict[int, float] = {
    0: 65.23, 1: 70.52, 2: 73.48, 4: 77.58, 8: 80.10, 16: 83.96
}

#: Sweep folder layout below the sweep root.
ZERO_SHOT_DIR = 'zero_shot'
BASE_TO_NEW_DIR = 'base2new'
METRICS_FILE = 'metrics.json'


def gdr_lambda(dataset: str, shots: int, base_to_new: bool = False) -> float:
    """The gradient-dropout lambda of one run (method.md section 5).

    16-shot runs use 0.3, except on ImageNet, SUN397 and Food101 (1.0);
    every 1/2/4/8-shot run and every base-to-new run uses 1.0. Datasets
    outside the paper follow the same rule; runs on more than 16 shots or
    on every image (``shots=-1``) count as 16-shot runs.
    """
    low_shot = 0 < shots < 16
    if base_to_new or low_shot or dataset in LAMBDA_ONE_AT_16_SHOTS:
        return 1.0
    return 0.3


def run_dir(root: str, dataset: str, shots: int, seed: int,
            base_to_new: bool = False) -> str:
    """Work dir of one training run:
    ``root/<dataset>[/base2new]/shots_<K>/seed_<S>``."""
    parts = [root, dataset] + ([BASE_TO_NEW_DIR] if base_to_new else [])
    return osp.join(*parts, f'shots_{shots}', f'seed_{seed}')


def zero_shot_dir(root: str, dataset: str, base_to_new: bool = False) -> str:
    """Folder of a dataset's zero-shot evaluations:
    ``root/<dataset>[/base2new]/zero_shot``."""
    parts = [root, dataset] + ([BASE_TO_NEW_DIR] if base_to_new else [])
    return osp.join(*parts, ZERO_SHOT_DIR)


def metrics_path(folder: str, target: Optional[str] = None) -> str:
    """The metrics JSON of one evaluation in ``folder``.

    Args:
        folder: A :func:`run_dir` or :func:`zero_shot_dir`.
        target: ``None`` for the dataset's own test split, ``'base'`` or
            ``'new'`` for a base-to-new half, or an ImageNet variant name.
    """
    name = METRICS_FILE if target is None else f'metrics_{target}.json'
    return osp.join(folder, name)


def read_metrics(path: str) -> dict:
    """The metrics of a finished evaluation (``tools/test.py --out``).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        FileRefusedError: If the file is empty, not a JSON object, or holds
            a number that is not finite: the evaluation did not finish.
    """
    metrics = read_json(path, 'The evaluation did not finish.')
    if not isinstance(metrics, dict):
        raise FileRefusedError(
            f'{path!r} holds a {type(metrics).__name__}, not the metrics '
            'object tools/test.py writes: the evaluation did not finish.')
    for key, value in metrics.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise FileRefusedError(
                f'{path!r} holds {key}={value}, not a finite number: the '
                'evaluation failed.')
    return metrics


@dataclass(frozen=True)
class Method:
    """One method of the side-by-side comparison.

    Attributes:
        label: Name in tables.
        config: Config path template with a ``{dataset}`` field.
        trains: Whether a run trains (``tools/train.py``) before testing;
            otherwise the test builds what it needs (Tip-Adapter's cache).
        masks: Whether it learns R-AMT masks (lambda rule, mask file).
        epochs_per_shots: Epochs by shot count for the paper's datasets
            (CoOp's rule); ``None`` keeps the config's.
    """
    label: str
    config: str
    trains: bool
    masks: bool
    epochs_per_shots: Optional[Dict[int, int]] = None


#: CoOp's epochs by shot count (ImageNet keeps its config's 50).
COOP_EPOCHS = {1: 50, 2: 100, 4: 100, 8: 200, 16: 200}

#: Every method of the comparison, keyed by its ``--methods`` name; the
#: sweep folder of method ``m`` is ``<root>/<m>/`` except R-AMT's, which is
#: the root itself, and zero-shot CLIP's, ``<root>/<dataset>/zero_shot``.
METHODS: Dict[str, Method] = {
    'zero_shot': Method('zero-shot CLIP',
                        'configs/zero_shot/clip_vitb16_{dataset}_zeroshot.py',
                        trains=False, masks=False),
    'rmt': Method('R-AMT', 'configs/rmt/rmt_vitb16_{dataset}_16shot.py',
                  trains=True, masks=True),
    'coop': Method('CoOp', 'configs/coop/coop_vitb16_{dataset}_16shot.py',
                   trains=True, masks=False, epochs_per_shots=COOP_EPOCHS),
    'tip_adapter': Method(
        'Tip-Adapter',
        'configs/tip_adapter/tip_adapter_vitb16_{dataset}_16shot.py',
        trains=False, masks=False),
    'tip_adapter_f': Method(
        'Tip-Adapter-F',
        'configs/tip_adapter/tip_adapter_f_vitb16_{dataset}_16shot.py',
        trains=True, masks=False),
    'coop_rmt': Method('CoOp + R-AMT',
                       'configs/rmt/coop_rmt_vitb16_{dataset}_16shot.py',
                       trains=True, masks=True),
    'tip_adapter_rmt': Method(
        'Tip-Adapter + R-AMT',
        'configs/rmt/tip_adapter_rmt_vitb16_{dataset}_16shot.py',
        trains=True, masks=True),
    'tip_adapter_f_rmt': Method(
        'Tip-Adapter-F + R-AMT',
        'configs/rmt/tip_adapter_f_rmt_vitb16_{dataset}_16shot.py',
        trains=True, masks=True),
}

#: Reported 16-shot top-1 (%) of the other methods (method.md section 8),
#: in the column order of :data:`PAPER_DATASETS`.
REPORTED_METHODS: Dict[str, Dict[str, float]] = {
    method: dict(zip(PAPER_DATASETS, row))
    for method, row in {
        'coop': (43.29, 72.01, 91.92, 96.93, 86.05, 82.91, 95.47, 82.25,
                 84.33, 74.58, 69.21),
        'tip_adapter': (45.20, 73.08, 92.66, 96.15, 88.53, 83.04, 95.63,
                        84.24, 87.31, 76.21, 71.57),
        'coop_rmt': (56.37, 73.35, 93.20, 97.83, 90.20, 85.63, 96.70, 86.87,
                     86.13, 75.45, 73.03),
        'tip_adapter_rmt': (61.07, 74.28, 94.07, 97.80, 91.50, 86.27, 96.97,
                            86.93, 87.43, 76.97, 74.77),
    }.items()
}
#: Their reported 11-dataset averages.
REPORTED_METHODS_AVERAGE = {'coop': 79.90, 'tip_adapter': 81.24,
                            'coop_rmt': 83.16, 'tip_adapter_rmt': 84.37}


def method_root(root: str, method: str) -> str:
    """The sweep root of one method (R-AMT's and zero-shot CLIP's are the
    root itself)."""
    return root if method in ('rmt', 'zero_shot') else osp.join(root, method)
