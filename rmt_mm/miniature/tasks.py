"""Downstream tasks of the miniature world, written in CoOp's folder layout.

Each task is a set of classes rendered in the ``'cluttered'`` style, which
pre-training never shows (blotchy coloured backgrounds, strong noise)::

    <root>/<task>/train/<folder>/<n>.png     few-shot draws come from here
    <root>/<task>/val/<folder>/<n>.png
    <root>/<task>/test/<folder>/<n>.png
    <root>/<task>/classnames.json            folder -> class name

read by :class:`~rmt_mm.datasets.FewShotImageFolder` (``classnames=
'classnames.json'``). Folder names start with a two-digit rank that fixes
the class order, so CoOp's base/new split (first/second half of the labels)
gives each half every colour and every shape, in different pairs. The
``compositions`` task also contains the colour-shape pairs pre-training
held out (:func:`.held_out_pairs`), three in each half.
"""
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

from .scenes import COLOURS, SHAPES, render, sample_scenes

SPLIT_SIZES = ('train', 'val', 'test')
DONE_FILE = 'classnames.json'


@dataclass(frozen=True)
class TaskClass:
    """One class: its name and the (colour, shape) pairs it is drawn from."""
    name: str
    pairs: Tuple[Tuple[str, str], ...]


@dataclass(frozen=True)
class Task:
    """A downstream task.

    Attributes:
        classes: In label order; the first half is the base split.
        per_class: Images per class in train, val and test.
    """
    classes: Tuple[TaskClass, ...]
    per_class: Tuple[int, int, int]


def _compositions() -> Task:
    """36 classes "<colour> <shape>"; base = even colour + shape index."""
    pairs = [(colour, shape) for i, colour in enumerate(COLOURS)
             for j, shape in enumerate(SHAPES)]
    order = sorted(pairs, key=lambda pair: (list(COLOURS).index(pair[0]) +
                                            SHAPES.index(pair[1])) % 2)
    return Task(tuple(TaskClass(f'{c} {s}', ((c, s), )) for c, s in order),
                per_class=(24, 8, 25))


def _shapes() -> Task:
    """6 classes, one per shape, any colour."""
    return Task(tuple(TaskClass(shape, tuple((c, shape) for c in COLOURS))
                      for shape in SHAPES),
                per_class=(48, 16, 100))


TASKS: Dict[str, Task] = {'compositions': _compositions(), 'shapes': _shapes()}


def class_folders(task: Task) -> List[str]:
    """Folder names in label order, e.g. ``'00_red_circle'``."""
    return [f'{rank:02d}_{cls.name.replace(" ", "_")}'
            for rank, cls in enumerate(task.classes)]


def write_task(root: str,
               name: str,
               seed: int = 0,
               per_class: Optional[Tuple[int, int, int]] = None) -> str:
    """Writes a task's images (deterministic from ``seed``) unless they are
    there already.

    Args:
        root: Parent folder of the task folders.
        name: A key of :data:`TASKS`.
        seed: Seeds the rendering.
        per_class: Images per class in train, val and test instead of the
            task's own counts (for quick checks).

    Returns:
        The task folder, ``root/name``.
    """
    if name not in TASKS:
        raise ValueError(f'Unknown miniature task {name!r}; choose one of '
                         f'{sorted(TASKS)}.')
    task, folder = TASKS[name], osp.join(root, name)
    if osp.isfile(osp.join(folder, DONE_FILE)):
        return folder
    folders = class_folders(task)
    task_index = sorted(TASKS).index(name)
    for split_index, split in enumerate(SPLIT_SIZES):
        for label, cls in enumerate(task.classes):
            rng = np.random.default_rng((seed, task_index, split_index, label))
            count = (per_class or task.per_class)[split_index]
            images = render(sample_scenes(rng, count, cls.pairs), rng,
                            'cluttered')
            out = osp.join(folder, split, folders[label])
            os.makedirs(out, exist_ok=True)
            for index, image in enumerate(images):
                Image.fromarray(image).save(osp.join(out, f'{index:03d}.png'))
    # Written last: its presence marks a complete task.
    with open(osp.join(folder, DONE_FILE), 'w', encoding='utf-8') as file:
        json.dump({f: c.name for f, c in zip(folders, task.classes)}, file,
                  indent=1)
    return folder
