from .grad_dropout import (AmpGradDropoutOptimWrapper,
                           GradDropoutOptimWrapper, gradient_dropout)
from .hooks import *  # noqa: F401,F403

__all__ = [
    'AmpGradDropoutOptimWrapper', 'GradDropoutOptimWrapper',
    'gradient_dropout'
]
