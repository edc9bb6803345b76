"""One loaded CLIP serving many mask-tuned tasks, switched per request.

A task is a mask file (one bit per masked entry), class names and their text
features. Switching folds the new task's masks into the CLIP weights in
place: the entries the previous task dropped get their saved values back and
the entries the new task drops are zeroed; every other entry stays where it
is. The weights then equal, bit for bit, the folded weights of a model built
for that task alone, and a forward pass costs what plain CLIP costs.

Any number of threads may use one server (a synchronous web endpoint calls
it from a thread pool). One lock guards the weights and the task table: a
batch holds it from its switch to the end of its image-encoder pass, so
every batch runs on exactly its task's weights, and the weights are plain
CLIP's whenever no task with masks is active. What leaves those weights
alone runs outside the lock, in parallel: reading and preprocessing images,
and encoding a new task's class names (masks only cover image-encoder
weights). The passes themselves take turns; each already spreads over the
CPU cores (or runs on the GPU). Measured on ViT-B/16 and 2 CPU cores in
three runs, 2 and 4 callers together get 1.02-1.18 and 0.95-1.18 times
one caller's images per second, with no wrong result
(docs/performance.md).
"""
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from torch import Tensor

from ..fileio.mask_file import pack_mask, unpack_mask
from ..models import MaskedCLIP, class_text_features
from .classes import resolve_classes
from .inferencer import load_config
from .inputs import (DEFAULT_MAX_PIXELS, ImageInput, ImagePreparer,
                     expand_inputs)
from .mask_source import mask_file_config, read_task_masks, recorded_classes
from .results import to_results

MIB = 1024**2


@dataclass
class RMTTask:
    """One task of an :class:`RMTTaskServer`.

    Attributes:
        name: The name requests use.
        classnames: Its classes, in label order.
        templates: Its prompt templates.
        text_features: ``(num_classes, dim)`` unit rows, computed once.
        mask_file: The mask file; ``None`` for zero-shot CLIP.
        bits: ``{weight name: packed keep-mask bits}`` (1 bit per entry).
        numel: ``{weight name: entries}`` of the masked weights.
        sparsity: Share of dropped entries among the masked ones.
    """
    name: str
    classnames: Tuple[str, ...]
    templates: Tuple[str, ...]
    text_features: Tensor
    mask_file: Optional[str] = None
    bits: Dict[str, Tensor] = field(default_factory=dict)
    numel: Dict[str, int] = field(default_factory=dict)
    sparsity: float = 0.0

    @property
    def nbytes(self) -> int:
        """Memory this task holds: mask bits plus text features."""
        return (sum(b.numel() for b in self.bits.values()) +
                self.text_features.numel() *
                self.text_features.element_size())

    def dropped_indices(self) -> Dict[str, Tensor]:
        """``{weight name: flat indices of the dropped entries}``."""
        return {
            name: torch.from_numpy(
                np.flatnonzero(~unpack_mask(bits, (self.numel[name], ))))
            for name, bits in self.bits.items()
        }


class RMTTaskServer:
    """Serves any number of tasks over one loaded CLIP.

    Adding a task reads its mask file and encodes its class names once; it
    never rebuilds CLIP. :meth:`predict` switches to the requested task
    (see the module docstring) and classifies. Every method may be called
    from any number of threads.

    The dropped-entry indices of recently used tasks are kept decoded, up
    to ``cache_mb``, so that switching among hot tasks only moves entries.

    Args:
        backbone: The CLIP, built without a mask file. The server owns it:
            its weights carry the active task's masks.
        preparer: Turns inputs into image batches (needed by
            :meth:`predict`; :meth:`logits` takes preprocessed batches).
        default_classes: ``(classnames, templates)`` for tasks that give
            none, or ``None`` to require them.
        cache_mb: Memory budget of the decoded-indices cache.
    """

    def __init__(self,
                 backbone: MaskedCLIP,
                 preparer: Optional[ImagePreparer] = None,
                 default_classes: Optional[Tuple[Sequence[str],
                                                 Sequence[str]]] = None,
                 cache_mb: float = 256) -> None:
        self.backbone = backbone.eval()
        self.preparer = preparer
        self.default_classes = default_classes
        self.cache_bytes = int(cache_mb * MIB)
        self._tasks: Dict[str, RMTTask] = {}
        self._active: Optional[str] = None
        self._saved: Dict[str, Tuple[Tensor, Tensor]] = {}
        self._cache: 'OrderedDict[str, Dict[str, Tensor]]' = OrderedDict()
        self._flat = {name: p.view(-1) for name, p in
                      backbone.clip.named_parameters()}
        # Re-entrant: add_task and logits switch while holding it.
        self._lock = threading.RLock()

    @classmethod
    def from_config(cls,
                    config: Union[str, Config],
                    cfg_options: Optional[dict] = None,
                    device: str = 'cpu',
                    max_pixels: int = DEFAULT_MAX_PIXELS,
                    **kwargs) -> 'RMTTaskServer':
        """Builds the config's CLIP (without masks) and test pipeline. Tasks
        without class names get the config's classes (read on first use)."""
        cfg = load_config(config, cfg_options)
        backbone_cfg = dict(cfg.model.backbone, mask_file=None)
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
        backbone = MODELS.build(backbone_cfg).to(device)
        preparer = ImagePreparer.from_config(cfg, max_pixels=max_pixels)
        preparer.data_preprocessor.to(device)
        server = cls(backbone, preparer, **kwargs)
        server._cfg = cfg
        return server

    @classmethod
    def from_mask_file(cls, mask_file: str, **kwargs) -> 'RMTTaskServer':
        """:meth:`from_config` on the config a mask file records (its CLIP,
        test pipeline and classes), so that no training config or data is
        needed; the mask file itself is not added as a task."""
        return cls.from_config(mask_file_config(mask_file), **kwargs)

    # ------------------------------------------------------------ tasks
    @property
    def tasks(self) -> List[str]:
        """Names of the tasks, in the order they were added."""
        with self._lock:
            return list(self._tasks)

    def task(self, name: str) -> RMTTask:
        """The task called ``name``.

        Raises:
            KeyError: If there is no such task (the message lists them).
        """
        if name not in self._tasks:
            raise KeyError(
                f'Unknown task {name!r}; this server has '
                f'{self.tasks or "no tasks yet"}. Add it with add_task().')
        return self._tasks[name]

    def _classes(self, classnames, templates, mask_file=None):
        if classnames is None and mask_file is not None:
            recorded = recorded_classes(mask_file)
            if recorded is not None:
                return recorded[0], tuple(templates or recorded[1])
        if classnames is None and self.default_classes is None:
            cfg = getattr(self, '_cfg', None)
            if cfg is None:
                raise ValueError('This server has no default classes; give '
                                 'classnames to add_task().')
            self.default_classes = resolve_classes(cfg)
        if classnames is None:
            names, default_templates = self.default_classes
            return tuple(names), tuple(templates or default_templates)
        return resolve_classes(None, classnames, templates)

    @torch.no_grad()
    def add_task(self,
                 name: str,
                 mask_file: Optional[str] = None,
                 classnames: Optional[Sequence[str]] = None,
                 templates: Optional[Sequence[str]] = None,
                 replace: bool = False) -> RMTTask:
        """Registers a task; ``mask_file=None`` makes it zero-shot CLIP.
        Without ``classnames`` the task classifies among the classes its
        mask file was trained on (or, for older mask files and zero-shot
        tasks, the server's default classes).

        Raises:
            ValueError: If the name is not a non-blank string or is taken
                (and ``replace`` is off), the class list is empty or repeats
                a name, or the mask file belongs to another architecture or
                pretrained source.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f'A task name must be a non-blank string, got '
                             f'{name!r}.')
        self._refuse_taken(name, replace)
        classnames, templates = self._classes(classnames, templates,
                                              mask_file)
        # Text features never depend on the active task: outside the lock.
        task = RMTTask(name, classnames, templates,
                       class_text_features(self.backbone, classnames,
                                           templates),
                       mask_file=mask_file)
        with self._lock:
            self._refuse_taken(name, replace)
            if mask_file is not None:
                self._read_masks(task)
            if name in self._tasks:
                self.remove_task(name)
            self._tasks[name] = task
        return task

    def _refuse_taken(self, name: str, replace: bool) -> None:
        if name in self._tasks and not replace:
            raise ValueError(f'Task {name!r} exists; pass replace=True to '
                             'replace it.')

    def _read_masks(self, task: RMTTask) -> None:
        """Fills ``task`` from its mask file (call it holding the lock)."""
        # The check fingerprints the plain weights, not a task's.
        active = self._active
        self._restore()
        try:
            masks = read_task_masks(task.mask_file, self.backbone)
        finally:
            if active is not None:
                self.switch(active)
        total = sum(m.numel() for m in masks.values())
        kept = sum(int(m.sum()) for m in masks.values())
        task.bits = {n: pack_mask(m) for n, m in masks.items()}
        task.numel = {n: m.numel() for n, m in masks.items()}
        task.sparsity = 1 - kept / total if total else 0.0

    @torch.no_grad()
    def remove_task(self, name: str) -> None:
        """Forgets a task (restoring the plain weights if it is active)."""
        with self._lock:
            self.task(name)
            if self._active == name:
                self._restore()
            self._cache.pop(name, None)
            del self._tasks[name]

    # ----------------------------------------------------------- switch
    def _dropped(self, name: str) -> Dict[str, Tensor]:
        if name in self._cache:
            self._cache.move_to_end(name)
            return self._cache[name]
        dropped = self._tasks[name].dropped_indices()
        self._cache[name] = dropped
        while len(self._cache) > 1 and \
                self.cache_usage()[1] > self.cache_bytes:
            self._cache.popitem(last=False)
        return dropped

    def cache_usage(self) -> Tuple[int, int]:
        """``(tasks, bytes)`` held in the decoded-indices cache."""
        with self._lock:
            return len(self._cache), sum(map(_nbytes, self._cache.values()))

    def _restore(self) -> None:
        """Gives the weights back their plain values (holding the lock)."""
        for name, (indices, values) in self._saved.items():
            self._flat[name].scatter_(0, indices, values)
        self._saved = {}
        self._active = None

    @torch.no_grad()
    def switch(self, name: str) -> None:
        """Makes ``name`` the active task (a no-op if it already is).

        Another thread's request may switch again at once: to classify with
        a task, call :meth:`predict` or :meth:`logits`, which switch and
        run under one lock.
        """
        with self._lock:
            self.task(name)
            if name == self._active:
                return
            self._restore()
            for weight, indices in self._dropped(name).items():
                flat = self._flat[weight]
                indices = indices.to(flat.device)
                # index_select/scatter_ are many times faster than indexing.
                values = flat.index_select(0, indices)
                # `values * 0` keeps the sign of zero that W * mask gives.
                flat.scatter_(0, indices, values * 0)
                self._saved[weight] = (indices, values)
            self._active = name

    @property
    def active_task(self) -> Optional[str]:
        """The task whose masks the weights carry now."""
        return self._active

    # ---------------------------------------------------------- predict
    def logits(self, images: Tensor, task: str) -> Tensor:
        """``exp(logit_scale) * cosine`` of preprocessed images against the
        task's classes, as ``RMTClassifier.logits`` computes them."""
        return self._logits(images, self.task(task))

    @torch.no_grad()
    def _logits(self, images: Tensor, task: RMTTask) -> Tensor:
        with self._lock:
            if self._tasks.get(task.name) is not task:
                raise KeyError(
                    f'Task {task.name!r} was removed or replaced while this '
                    'request ran; send the request again.')
            self.switch(task.name)
            features = self.backbone.encode_image(
                images, masked=False, normalize=True)
        return (self.backbone.logit_scale * features
                @ task.text_features.t())

    @torch.no_grad()
    def predict(self,
                inputs: Union[ImageInput, Sequence[ImageInput]],
                task: str,
                batch_size: int = 8) -> List[dict]:
        """Classifies images with a task; one result dict per image.

        Raises:
            KeyError: If the task is unknown.
            ImageInputError: If an input is not a usable image.
        """
        entry = self.task(task)
        if self.preparer is None:
            raise RuntimeError('This server was built without an image '
                               'preparer; use from_config() or logits().')
        results = []
        # Images are read and preprocessed outside the lock.
        for names, images in self.preparer.batches(expand_inputs(inputs),
                                                   batch_size):
            scores = torch.softmax(self._logits(images, entry), dim=-1)
            results += to_results(names, scores, entry.classnames)
        return results


def _nbytes(tensors: Dict[str, Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors.values())
