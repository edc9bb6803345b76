"""Regularisers: loss terms that keep a tuned classifier close to what it
was at step 0. They decide, through gradient dropout, which task-gradient
entries of the mask scores to drop; they are never added to the task loss.
"""
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor, nn


def distillation_loss(student: Tensor, teacher: Tensor,
                      temperature: float = 1.0) -> Tensor:
    """``T^2 * mean_b sum_c -softmax(t/T)_c * log softmax(s/T)_c``.

    The gradient equals that of ``KL(teacher || student)``; the teacher
    logits are treated as constants.
    """
    target = F.softmax(teacher.detach() / temperature, dim=-1)
    log_pred = F.log_softmax(student / temperature, dim=-1)
    return -(target * log_pred).sum(-1).mean() * temperature**2


@MODELS.register_module()
class RMTZeroShotDistillation(nn.Module):
    """Distillation towards the same classifier with every mask kept (the
    zero-shot teacher of R-AMT, method.md section 4).

    Args:
        temperature: ``T`` (1 in the paper).
    """

    #: Logged under this key (``reg_`` so that mmengine does not sum it).
    log_key = 'reg_distill'

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(
                f'The distillation temperature must be > 0, got '
                f'{temperature}.')
        self.temperature = temperature

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        """The distillation loss of ``student`` towards ``teacher`` logits."""
        return distillation_loss(student, teacher, self.temperature)
