"""The distributed model wrapper that lets the model own its step."""
from typing import Dict, Union

from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODEL_WRAPPERS
from torch import Tensor


@MODEL_WRAPPERS.register_module()
class RMTDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's ``MMDistributedDataParallel`` whose training step is the
    model's own ``train_step`` when the optim wrapper averages gradients
    over the processes itself (``GradDropoutOptimWrapper``).

    mmengine's wrapper runs the forward pass and hands only the summed loss
    to the optim wrapper, so the regularisation loss of
    ``RMTClassifier.train_step`` would never reach gradient dropout. Other
    optim wrappers (CoOp, Tip-Adapter-F) take mmengine's step, where DDP's
    reducer averages the gradients.
    """

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        if getattr(optim_wrapper, 'averages_gradients', False):
            return self.module.train_step(data, optim_wrapper)
        return super().train_step(data, optim_wrapper)
