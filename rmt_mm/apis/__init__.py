"""Using tuned models: the inferencer and the multi-task server."""
from .inferencer import RMTInferencer
from .inputs import ImageInputError, ImagePreparer, expand_inputs
from .results import top_classes
from .task_server import RMTTask, RMTTaskServer

__all__ = [
    'ImageInputError', 'ImagePreparer', 'RMTInferencer', 'RMTTask',
    'RMTTaskServer', 'expand_inputs', 'top_classes'
]
