"""The training sampler of the reference loop (Dassl's ``drop_last``),
decided by the global batch under any number of processes."""
import math
from typing import Iterator, Optional, Sized

import torch
from mmengine.dataset import DefaultSampler
from mmpretrain.registry import DATA_SAMPLERS


def updates_per_epoch(num_images: int, global_batch_size: int) -> int:
    """Optimiser updates one epoch makes in the reference loop.

    Dassl drops the last partial batch when the training set holds at least
    one full batch and keeps the single short batch otherwise.
    """
    return max(1, num_images // global_batch_size)


@DATA_SAMPLERS.register_module()
class RMTGlobalBatchSampler(DefaultSampler):
    """Shuffles as :class:`mmengine.dataset.DefaultSampler` does and keeps
    only the images of complete *global* batches.

    Global batch ``b`` of an epoch is images ``b*G .. (b+1)*G - 1`` of the
    epoch's permutation, whatever the number of processes: rank ``r`` takes
    every ``world_size``-th of them, so the processes' shares of a step make
    up exactly the batch one process would see. When the training set is
    smaller than ``G`` it is kept whole (one short batch per epoch), padded
    by repetition to a multiple of the process count.

    Args:
        dataset: The training set.
        global_batch_size: Images per optimiser update over all processes
            and accumulation steps (``tools/train.py`` fills it in from
            ``global_batch_size``).
        shuffle: Draw a new permutation every epoch from ``seed + epoch``.
        seed: Shuffling seed, identical on every process; ``None`` agrees on
            one over the process group.
    """

    def __init__(self,
                 dataset: Sized,
                 global_batch_size: Optional[int] = None,
                 shuffle: bool = True,
                 seed: Optional[int] = None) -> None:
        super().__init__(dataset, shuffle=shuffle, seed=seed, round_up=True)
        if global_batch_size is None or global_batch_size < 1:
            raise ValueError(
                'RMTGlobalBatchSampler needs global_batch_size, the images '
                'of one optimiser update over all processes; tools/train.py '
                'sets it from the top-level global_batch_size, otherwise '
                'give train_dataloader.sampler.global_batch_size=N.')
        if global_batch_size % self.world_size:
            raise ValueError(
                f'global_batch_size={global_batch_size} cannot be shared by '
                f'{self.world_size} processes; use a process count that '
                'divides it.')
        self.global_batch_size = global_batch_size
        size = len(dataset)
        self.kept = updates_per_epoch(size, global_batch_size) * \
            global_batch_size if size >= global_batch_size else size
        self.num_samples = math.ceil(self.kept / self.world_size)
        self.total_size = self.num_samples * self.world_size

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(len(self.dataset), generator=generator)
        else:
            order = torch.arange(len(self.dataset))
        kept = order[:self.kept].tolist()
        repeats = math.ceil(self.total_size / max(len(kept), 1))
        padded = (kept * repeats)[:self.total_size]
        return iter(padded[self.rank::self.world_size])
