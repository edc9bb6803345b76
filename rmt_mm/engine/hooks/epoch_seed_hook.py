"""Makes each epoch's randomness a function of (seed, epoch) only."""
from mmengine.hooks import Hook
from mmengine.runner import set_random_seed
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class RMTEpochSeedHook(Hook):
    """Re-seeds Python, numpy and torch at the start of every epoch.

    mmengine restores the sampler order on ``--resume`` but not the global
    random state that data augmentation draws from in the main process.
    Seeding every epoch from ``(seed, epoch)`` makes a resumed run replay
    exactly the augmentations of the uninterrupted one.
    """

    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner) -> None:
        seed = runner.seed if runner.seed is not None else 0
        set_random_seed(seed * 10007 + runner.epoch)
