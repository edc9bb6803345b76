"""Per-sample augmentation randomness drawn from (seed, epoch, index)."""
import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 32-bit seed that depends only on the run seed, the epoch and the
    sample's index in the dataset."""
    state = np.random.SeedSequence([seed, epoch, index]).generate_state(1)
    return int(state[0])


@contextmanager
def seeded_global_random(seed: int) -> Iterator[None]:
    """Seeds Python's and numpy's global generators (which mmcv's and
    mmpretrain's transforms draw from) for the block, then restores them.

    Restoring keeps the caller's streams untouched, so loading in the main
    process (``num_workers=0``) and in workers gives the same results.
    """
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
