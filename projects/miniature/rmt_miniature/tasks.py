"""Downstream tasks of the miniature world, written in CoOp's folder layout.

``compositions`` and ``shapes`` are rendered in the ``'cluttered'`` style,
which pre-training never shows (blotchy coloured backgrounds, strong noise);
``tinted`` keeps the plain style and gives every class a background colour
of its own (a class-specific shift)::

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
import colorsys
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
    """One class: its name, the (colour, shape) pairs it is drawn from, and
    how it is drawn (a style of :mod:`.scenes`, and a background colour for
    the plain style)."""
    name: str
    pairs: Tuple[Tuple[str, str], ...]
    style: str = 'cluttered'
    tint: Optional[Tuple[float, float, float]] = None


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


def _tint(index: int, count: int) -> Tuple[float, float, float]:
    """A dark background colour of its own for class ``index``: hues spread
    around the circle, visited in a fixed scrambled order so that a class's
    tint says nothing about its shape's colour."""
    hue = ((index * 7) % count) / count
    rgb = colorsys.hsv_to_rgb(hue, 0.7, 0.42)
    return tuple(round(255 * c, 1) for c in rgb)


def _tinted() -> Task:
    """The 36 classes of ``compositions`` in the pre-training's plain style,
    each on a flat background colour of its own: a shift that differs from
    class to class, with no style shared by all classes."""
    classes = _compositions().classes
    return Task(tuple(
        TaskClass(c.name, c.pairs, style='plain', tint=_tint(i, len(classes)))
        for i, c in enumerate(classes)), per_class=(24, 8, 25))


TASKS: Dict[str, Task] = {'compositions': _compositions(), 'shapes': _shapes(),
                          'tinted': _tinted()}


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
                            cls.style, cls.tint)
            out = osp.join(folder, split, folders[label])
            os.makedirs(out, exist_ok=True)
            for index, image in enumerate(images):
                Image.fromarray(image).save(osp.join(out, f'{index:03d}.png'))
    # Written last: its presence marks a complete task.
    with open(osp.join(folder, DONE_FILE), 'w', encoding='utf-8') as file:
        json.dump({f: c.name for f, c in zip(folders, task.classes)}, file,
                  indent=1)
    return folder
