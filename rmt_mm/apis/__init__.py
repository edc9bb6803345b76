"""Using tuned models: the inferencer, the multi-task server, the web page
of tools/app.py (:mod:`.app`) and the export to open_clip weights of
tools/export.py (:mod:`.export`)."""
from .inferencer import RMTInferencer
from .inputs import ImageInputError, ImagePreparer, expand_inputs
from .results import top_classes
from .task_server import RMTTask, RMTTaskServer

__all__ = [
    'ImageInputError', 'ImagePreparer', 'RMTInferencer', 'RMTTask',
    'RMTTaskServer', 'expand_inputs', 'top_classes'
]
