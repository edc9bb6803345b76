import pytest
import torch
from rmt_testing import TINY_VIT, save_random_weights

import rmt_mm
from rmt_mm.fileio import checkpoint_kind, load_mask_file, save_mask_file
from rmt_mm.fileio.mask_file import pack_mask, unpack_mask
from rmt_mm.models import MaskedCLIP


def test_pack_unpack_is_exact_for_odd_sizes():
    torch.manual_seed(0)
    for shape in [(1, ), (7, ), (3, 5, 9), (64, 64)]:
        mask = torch.rand(shape) > 0.5
        bits = pack_mask(mask)
        assert bits.dtype == torch.uint8
        assert bits.numel() == -(-mask.numel() // 8)
        assert torch.equal(unpack_mask(bits, shape), mask)


def test_mask_file_round_trip_and_metadata(tmp_path):
    weights = save_random_weights(TINY_VIT, str(tmp_path / 'clip.pt'))
    torch.manual_seed(0)
    model = MaskedCLIP(arch=TINY_VIT, pretrained=weights)
    with torch.no_grad():
        for _, scores in model.masks.items():
            scores.copy_(torch.rand(scores.shape) * 0.01)
    path = str(tmp_path / 'masks.pth')
    model.save_masks(path, epoch=3)
    masks, meta = load_mask_file(path)
    assert list(masks) == model.mask_names
    for name, mask in model.hard_masks().items():
        assert torch.equal(masks[name], mask)
    assert meta['arch'] == model.arch and meta['epoch'] == 3
    # Exact: stored copies of the model's floats.
    assert meta['threshold'] == 5e-3 and meta['pretrained'] == weights
    assert meta['score_init'] == 1e-2
    assert meta['rmt_mm_version'] == rmt_mm.__version__
    assert checkpoint_kind(path) == 'masks'

    fresh = MaskedCLIP(arch=TINY_VIT, pretrained=weights,
                       mask_file=path).eval()
    images = torch.rand(2, 3, 32, 32)
    # Exact: the same hard masks fold to the same W * mask, and the same
    # kernels run on the same input in this process.
    with torch.no_grad():
        assert torch.equal(fresh.encode_image(images),
                           model.eval().encode_image(images))


def test_mask_file_follows_its_selection(tmp_path):
    pattern = 'visual.transformer.resblocks.*.mlp.c_fc.weight'
    torch.manual_seed(0)
    model = MaskedCLIP(arch=TINY_VIT, mask_targets=[pattern])
    path = str(tmp_path / 'mlp.pth')
    model.save_masks(path)
    torch.manual_seed(0)  # the same random CLIP weights
    loaded = MaskedCLIP(arch=TINY_VIT, mask_file=path)
    assert loaded.mask_names == model.mask_names


def test_mask_file_of_another_explicit_selection_is_rejected(tmp_path):
    path = str(tmp_path / 'paper.pth')
    torch.manual_seed(0)
    MaskedCLIP(arch=TINY_VIT).save_masks(path)
    torch.manual_seed(0)
    with pytest.raises(ValueError) as info:
        MaskedCLIP(arch=TINY_VIT, mask_file=path,
                   mask_targets=['visual.conv1.weight'])
    names = MaskedCLIP(arch=TINY_VIT).mask_names
    assert str(info.value) == (
        f'Mask file {path!r} masks {names} but the config asks for '
        "mask_targets=['visual.conv1.weight'] (['visual.conv1.weight']). "
        'Remove mask_targets from the config (the file records its '
        'selection) or use the mask file of this selection.')


def test_mask_file_of_a_selector_overrides_the_configs_targets(
        tmp_path, vit_weights):
    """A selection made by ParameterSelector (recorded in the file) is what
    evaluation rebuilds, whatever the run's config says in mask_targets."""
    model = MaskedCLIP(arch=TINY_VIT, pretrained=vit_weights,
                       mask_targets=['visual.conv1.weight'])
    model.selection = dict(mode='importance', top_k=1)
    path = str(tmp_path / 'selected.pth')
    model.save_masks(path)
    loaded = MaskedCLIP(
        arch=TINY_VIT, pretrained=vit_weights, mask_file=path,
        mask_targets=['visual.transformer.resblocks.*.attn.in_proj_weight'])
    assert loaded.mask_names == ['visual.conv1.weight']
    assert loaded.selection == dict(mode='importance', top_k=1)


def test_mask_file_of_another_architecture_is_rejected(tmp_path):
    other = dict(TINY_VIT, embed_dim=8)
    path = str(tmp_path / 'other.pth')
    MaskedCLIP(arch=other).save_masks(path)
    with pytest.raises(ValueError, match='was trained on arch='):
        MaskedCLIP(arch=TINY_VIT, mask_file=path)


def test_mask_file_with_weights_this_model_lacks_is_rejected(tmp_path):
    deeper = dict(TINY_VIT, vision_cfg=dict(TINY_VIT['vision_cfg'],
                                            layers=3))
    model = MaskedCLIP(arch=deeper)
    path = str(tmp_path / 'deeper.pth')
    model.save_masks(path)
    masks, meta = load_mask_file(path)
    meta['arch'] = MaskedCLIP(arch=TINY_VIT).arch
    save_mask_file(path, masks, meta)
    with pytest.raises(ValueError, match='resblocks.2.*does not have'):
        MaskedCLIP(arch=TINY_VIT, mask_file=path)


def test_other_files_are_not_mistaken_for_checkpoints(tmp_path):
    path = str(tmp_path / 'weights.pt')
    torch.save({'visual.conv1.weight': torch.zeros(1)}, path)
    with pytest.raises(ValueError, match='neither an rmt_mm mask file'):
        checkpoint_kind(path)


def test_vitb16_paper_mask_file_size(tmp_path):
    model = MaskedCLIP(arch='ViT-B-16')
    entries = sum(s.numel() for _, s in model.masks.items())
    assert entries == 28_901_376  # method.md section 2
    size = model.save_masks(str(tmp_path / 'vitb16.pth'))
    assert entries // 8 <= size <= 3.6 * 2**20


def test_checkpoints_of_methods_without_masks_are_checkpoints(tmp_path):
    for key in ('head.context', 'adapter.keys'):
        path = str(tmp_path / 'epoch_1.pth')
        torch.save({'state_dict': {key: torch.zeros(1)}, 'meta': {}}, path)
        assert checkpoint_kind(path) == 'resume'


def test_checkpoint_kind_reads_every_kind_of_checkpoint(tmp_path):
    path = str(tmp_path / 'epoch_1.pth')
    scores = {'backbone.masks.scores.visual__proj': torch.ones(1)}
    torch.save({'state_dict': scores, 'meta': {}}, path)
    assert checkpoint_kind(path) == 'resume'
    # The pre-zip format cannot be memory-mapped; it is read whole.
    torch.save({'state_dict': scores, 'meta': {}}, path,
               _use_new_zipfile_serialization=False)
    assert checkpoint_kind(path) == 'resume'
    # Weights without scores, a head or an adapter, and files that are not
    # a dict, are neither.
    for payload in ({'state_dict': {'backbone.clip.visual.proj':
                                    torch.ones(1)}}, [torch.ones(1)],
                    torch.ones(1)):
        torch.save(payload, path)
        with pytest.raises(ValueError, match='neither an rmt_mm mask file'):
            checkpoint_kind(path)


def test_masks_of_any_shape_round_trip_and_are_named_in_the_meta(tmp_path):
    from rmt_mm.fileio.mask_file import pack_mask, unpack_mask
    mask = torch.rand(3, 5) > 0.5  # rows that do not fill whole bytes
    assert torch.equal(unpack_mask(pack_mask(mask), (3, 5)), mask)
    path = str(tmp_path / 'masks.pth')
    save_mask_file(path, {'b.weight': mask, 'a.weight': ~mask}, {})
    masks, meta = load_mask_file(path)
    assert meta['mask_names'] == ['b.weight', 'a.weight']
    assert torch.equal(masks['b.weight'], mask)
