"""RMTGlobalBatchSampler: Dassl's drop_last, decided by the global batch."""
from unittest import mock

import pytest
import torch
from mmengine.dataset import DefaultSampler

from rmt_mm.datasets import RMTGlobalBatchSampler, updates_per_epoch


@pytest.mark.parametrize('images,batch,updates', [
    (47, 32, 1),    # DTD 1-shot: one update (mmengine's default gives 2)
    (10, 32, 1),    # EuroSAT 1-shot: smaller than a batch, kept whole
    (752, 32, 23),  # DTD 16-shot
    (64, 32, 2),
    (63, 32, 1),
])
def test_updates_per_epoch_follow_dassl(images, batch, updates):
    # Dassl: drop_last = len(data) >= batch_size.
    expected = images // batch if images >= batch else 1
    assert updates_per_epoch(images, batch) == expected == updates


def ranks(size, global_batch, world_size, epoch=0, seed=7):
    """Each rank's indices, as its sampler yields them."""
    out = []
    for rank in range(world_size):
        with mock.patch('mmengine.dataset.sampler.get_dist_info',
                        return_value=(rank, world_size)):
            sampler = RMTGlobalBatchSampler(
                list(range(size)), global_batch_size=global_batch, seed=seed)
        sampler.set_epoch(epoch)
        out.append(list(sampler))
        assert len(sampler) == len(out[-1])
    return out


@pytest.mark.parametrize('size', [47, 63, 64, 100])
@pytest.mark.parametrize('world_size', [2, 4])
def test_processes_share_exactly_the_one_process_batches(size, world_size):
    global_batch = 32
    single, = ranks(size, global_batch, 1)
    # Whole batches only, no image twice in an epoch.
    assert len(single) == size // global_batch * global_batch
    assert len(set(single)) == len(single)
    shares = ranks(size, global_batch, world_size)
    per_rank = global_batch // world_size
    for step in range(len(single) // global_batch):
        union = sorted(i for share in shares
                       for i in share[step * per_rank:(step + 1) * per_rank])
        assert union == sorted(single[step * global_batch:(step + 1) *
                                      global_batch])
    # mmengine's DefaultSampler with the per-process drop_last would give
    # 63 images over 2 processes 2 updates, the reference 1.
    assert all(len(share) // per_rank == len(single) // global_batch
               for share in shares)


def test_small_set_is_one_short_batch_every_epoch():
    single, = ranks(10, 32, 1)
    assert sorted(single) == list(range(10))
    first, second = ranks(10, 32, 2)
    assert len(first) == len(second) == 5
    assert sorted(first + second) == list(range(10))


def test_order_is_new_every_epoch_and_that_of_default_sampler():
    epoch0, = ranks(64, 32, 1, epoch=0)
    epoch1, = ranks(64, 32, 1, epoch=1)
    assert epoch0 != epoch1
    default = DefaultSampler(list(range(64)), seed=7)
    assert list(default) == epoch0


def test_later_epochs_draw_from_seed_plus_epoch():
    epoch3, = ranks(70, 32, 1, epoch=3)
    expected = torch.randperm(
        70, generator=torch.Generator().manual_seed(7 + 3))[:64].tolist()
    assert epoch3 == expected
    default = DefaultSampler(list(range(70)), seed=7)
    default.set_epoch(3)
    assert epoch3 == list(default)[:64]


def test_without_shuffle_the_complete_batches_come_in_order():
    sampler = RMTGlobalBatchSampler(list(range(70)), global_batch_size=32,
                                    shuffle=False, seed=7)
    sampler.set_epoch(2)
    assert list(sampler) == list(range(64))


def test_one_image_reaches_every_process():
    # One image, two processes: each gets it (padding by repetition).
    assert ranks(1, 2, 2) == [[0], [0]]
    # Three images over two processes: four places, one image twice.
    first, second = ranks(3, 4, 2)
    assert set(first + second) == {0, 1, 2}
    assert len(first) == len(second) == 2


def test_a_global_batch_of_one_is_an_update_per_image():
    single, = ranks(5, 1, 1)
    assert sorted(single) == list(range(5))


def test_global_batch_is_required_and_must_split():
    with pytest.raises(ValueError, match='global_batch_size'):
        RMTGlobalBatchSampler(list(range(8)))
    with mock.patch('mmengine.dataset.sampler.get_dist_info',
                    return_value=(0, 3)):
        with pytest.raises(ValueError, match='3 processes'):
            RMTGlobalBatchSampler(list(range(8)), global_batch_size=32)
