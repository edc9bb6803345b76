"""The miniature world: a tiny CLIP pre-trained offline on rendered scenes,
and downstream few-shot tasks in CoOp's layout (projects/miniature/README.md).

Everything the project ships is found relative to its own folder.
"""
import os.path as osp

from .pretrain import MINI_CLIP_ARCH, pretrain, save_weights, zero_shot_top1
from .tasks import TASKS, write_task

#: ``projects/miniature``, its configs and the shipped weights.
PROJECT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(PROJECT, 'configs')
WEIGHTS = osp.join(PROJECT, 'mini_clip.pt')
#: The repository's tools (train, test, sweep, ...).
TOOLS = osp.join(osp.dirname(osp.dirname(PROJECT)), 'tools')


def config_path(task: str = 'compositions', method: str = 'rmt') -> str:
    """The project's config of ``method`` (``rmt``, ``coop``, ...) on
    ``task``."""
    return osp.join(CONFIGS, f'{method}_mini_{task}_16shot.py')


__all__ = ['CONFIGS', 'MINI_CLIP_ARCH', 'PROJECT', 'TASKS', 'TOOLS',
           'WEIGHTS', 'config_path', 'pretrain', 'save_weights',
           'write_task', 'zero_shot_top1']
