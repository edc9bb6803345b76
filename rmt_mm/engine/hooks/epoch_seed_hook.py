"""Makes each epoch's randomness a function of (seed, epoch) only."""
from mmengine.hooks import Hook
from mmengine.runner import set_random_seed
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class RMTEpochSeedHook(Hook):
    """Re-seeds Python, numpy and torch at the start of every epoch, and
    tells the training set which epoch its augmentations belong to.

    mmengine restores the sampler order on ``--resume`` but not the global
    random state, and with non-persistent loader workers it seeds every
    worker identically each epoch, so the augmentations would repeat from
    epoch to epoch. Seeding every epoch from ``(seed, epoch)`` and each
    sample's augmentation from ``(seed, epoch, index)`` (see
    ``FewShotDataset.set_augmentation_epoch``) gives new crops every epoch,
    the same ones for any number of processes and workers, and exactly the
    uninterrupted run's after a resume.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        if getattr(loader, 'persistent_workers', False):
            raise ValueError(
                'RMTEpochSeedHook draws every epoch\'s augmentations in '
                'fresh loader workers; set train_dataloader.'
                'persistent_workers=False.')

    def before_train_epoch(self, runner) -> None:
        seed = runner.seed if runner.seed is not None else 0
        set_random_seed(seed * 10007 + runner.epoch)
        dataset = runner.train_dataloader.dataset
        if hasattr(dataset, 'set_augmentation_epoch'):
            dataset.set_augmentation_epoch(seed, runner.epoch)
