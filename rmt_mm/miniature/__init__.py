"""The miniature world: a tiny CLIP pre-trained offline on rendered scenes,
and downstream few-shot tasks in CoOp's layout (README, "The miniature
world")."""
from .pretrain import MINI_CLIP_ARCH, pretrain, save_weights, zero_shot_top1
from .tasks import TASKS, write_task

__all__ = ['MINI_CLIP_ARCH', 'TASKS', 'pretrain', 'save_weights',
           'write_task', 'zero_shot_top1']
