"""Resume checkpoints that load without running code and prove they are
intact."""
import math
from typing import Union

from mmengine.hooks import CheckpointHook
from mmpretrain.registry import HOOKS

from ...utils.resume_checkpoint import to_plain_checkpoint

#: ``interval='auto'`` writes about this many checkpoints per run (plus the
#: last epoch's), whatever its length.
AUTO_CHECKPOINTS = 10


@HOOKS.register_module()
class RMTCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments) whose files hold only
    tensors and plain data plus a checksum of them.

    PyTorch's safe loader reads them, and ``load_from`` / ``--resume``
    refuse one whose content changed after it was written (see
    :mod:`rmt_mm.utils.resume_checkpoint`).

    Args:
        interval: Epochs between checkpoints, or ``'auto'``: every
            ``ceil(max_epochs / 10)`` epochs, so that a long low-shot run
            writes about 10 checkpoints plus the last, as a short one does.
        **kwargs: The arguments of mmengine's ``CheckpointHook``.
    """

    def __init__(self, interval: Union[int, str] = 'auto', **kwargs) -> None:
        self.auto_interval = interval == 'auto'
        super().__init__(interval=-1 if self.auto_interval else interval,
                         **kwargs)

    def before_train(self, runner) -> None:
        if self.auto_interval:
            self.interval = max(1, math.ceil(runner.max_epochs /
                                             AUTO_CHECKPOINTS))
        super().before_train(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        to_plain_checkpoint(checkpoint)
