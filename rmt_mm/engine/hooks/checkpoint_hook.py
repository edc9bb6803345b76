"""Resume checkpoints that load without running code, prove they are
intact and say which CLIP weights their mask scores belong to."""
import math
from typing import Optional, Union

from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...fileio.mask_file import MASK_FILE_KEY
from ...fileio.resume_checkpoint import mask_file_refusal, to_plain_checkpoint
from ...models import MaskedCLIP

#: ``interval='auto'`` writes about this many checkpoints per run (plus the
#: last epoch's), whatever its length.
AUTO_CHECKPOINTS = 10
#: ``checkpoint['meta']`` entry naming the CLIP weights of the mask scores:
#: ``{'pretrained', 'mask_names', 'weights_fingerprint'}``.
WEIGHTS_RECORD = 'rmt_mm_weights'
#: The tools whose ``--allow-other-weights`` loads such a checkpoint anyway.
OVERRIDING_TOOLS = 'tools/test.py, tools/train.py'


def _masked_clip(runner) -> Optional[MaskedCLIP]:
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    backbone = getattr(model, 'backbone', None)
    return backbone if isinstance(backbone, MaskedCLIP) else None


@HOOKS.register_module()
class RMTCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments) whose files hold only
    tensors and plain data plus a checksum of them.

    PyTorch's safe loader reads them, and ``load_from`` / ``--resume``
    refuse one whose content changed after it was written (see
    :mod:`rmt_mm.fileio.resume_checkpoint`). A checkpoint with mask scores
    also records the fingerprint of the CLIP weights they were trained on,
    as mask files do; loading it into a model with other weights
    (``tools/test.py``, ``--resume``, ``load_from``) is refused unless
    ``model.backbone.allow_other_weights`` (``--allow-other-weights``), and
    a checkpoint without the record loads with a warning.

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
        backbone = _masked_clip(runner)
        if backbone is not None and backbone.has_masks:
            checkpoint.setdefault('meta', {})[WEIGHTS_RECORD] = dict(
                pretrained=backbone.pretrained,
                mask_names=backbone.mask_names,
                weights_fingerprint=backbone.weights_fingerprint())
        to_plain_checkpoint(checkpoint)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('state_dict') or {}
        if MASK_FILE_KEY in state and getattr(runner, '_resume', False):
            # load_from takes a mask file; a resume needs the training state.
            raise mask_file_refusal(state[MASK_FILE_KEY])
        backbone = _masked_clip(runner)
        if backbone is None or not any('masks.scores.' in key
                                       for key in state):
            return  # nothing learned on particular weights
        record = (checkpoint.get('meta') or {}).get(WEIGHTS_RECORD) or {}
        names = record.get('mask_names', [])
        params = dict(backbone.clip.named_parameters())
        if any(name not in params for name in names):
            return  # loading the scores names the weights this CLIP lacks
        path = getattr(runner, '_load_from', None) or 'the loaded checkpoint'
        backbone.check_weights(path, record, names,
                               backbone.allow_other_weights,
                               kind='Checkpoint', tools=OVERRIDING_TOOLS)
