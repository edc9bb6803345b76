"""Resume checkpoints that load without running code and prove they are
intact."""
from mmengine.hooks import CheckpointHook
from mmpretrain.registry import HOOKS

from ...utils.resume_checkpoint import to_plain_checkpoint


@HOOKS.register_module()
class RMTCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments) whose files hold only
    tensors and plain data plus a checksum of them.

    PyTorch's safe loader reads them, and ``load_from`` / ``--resume``
    refuse one whose content changed after it was written (see
    :mod:`rmt_mm.utils.resume_checkpoint`).
    """

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        to_plain_checkpoint(checkpoint)
