"""Per-sample augmentation randomness drawn from (seed, epoch, index)."""
import random
from contextlib import contextmanager
from typing import Iterator, Optional

import numpy as np

# numpy's global functions (np.random.randint, ...) draw from one global
# bit generator; while a sample is augmented they draw from this one.
_sample_bits: Optional[np.random.MT19937] = None


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
    numpy's global bit generator is swapped rather than saved and restored,
    which would copy its state twice per sample.
    """
    global _sample_bits
    if _sample_bits is None:
        _sample_bits = np.random.MT19937()
    caller_bits = np.random.get_bit_generator()
    py_state = random.getstate()
    np.random.set_bit_generator(_sample_bits)
    np.random.seed(seed)
    random.seed(seed)
    try:
        yield
    finally:
        np.random.set_bit_generator(caller_bits)
        random.setstate(py_state)
