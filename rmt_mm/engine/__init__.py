from .grad_dropout import (AmpGradDropoutOptimWrapper, GradDropoutOptimWrapper,
                           gradient_dropout)
from .hooks import *  # noqa: F401,F403
from .model_wrapper import RMTDistributedDataParallel

__all__ = [
    'AmpGradDropoutOptimWrapper', 'GradDropoutOptimWrapper',
    'RMTDistributedDataParallel', 'gradient_dropout'
]
