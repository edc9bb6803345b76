import open_clip
import pytest
import torch
from rmt_testing import TINY_RESNET, TINY_VIT, save_random_weights

from rmt_mm.fileio import load_mask_file
from rmt_mm.models import MaskedCLIP


def openclip_reference(arch, path):
    model = open_clip.CLIP(**arch)
    open_clip.load_checkpoint(model, path)
    return model.eval()


@pytest.mark.parametrize('arch', [TINY_VIT, TINY_RESNET],
                         ids=['vit', 'modified_resnet'])
def test_fresh_masks_equal_open_clip(arch, tmp_path):
    path = save_random_weights(arch, str(tmp_path / 'w.pt'))
    ours = MaskedCLIP(arch=arch, pretrained=path).eval()
    reference = openclip_reference(arch, path)
    size = arch['vision_cfg']['image_size']
    images = torch.rand(3, 3, size, size)
    tokens = ours.tokenize(['a photo of a cat.', 'a dog.'])
    with torch.no_grad():
        ref_img = reference.encode_image(images)
        ref_txt = reference.encode_text(tokens, normalize=True)
        ref_logits = (reference.logit_scale.exp() *
                      torch.nn.functional.normalize(ref_img, dim=-1) @
                      ref_txt.t())
        img = ours.encode_image(images)
        # Unnormalised text features by default, as open_clip. The text
        # side is not bit for bit: the reference's weights require grad, so
        # its attention takes another matmul path (bmm, not mm), a different
        # float32 summation order. Features of size <= ~3 from a one-layer,
        # width-32 encoder then differ by a few ulp (1e-6 seen); 1e-5 leaves
        # margin for other CPUs' kernels. Any real difference (a missing
        # layer, another tokenizer) is of the order of the values.
        assert (ours.encode_text(tokens) -
                reference.encode_text(tokens)).abs().max() <= 1e-5
        logits = (ours.logit_scale * ours.encode_image(images, normalize=True)
                  @ ours.encode_text(tokens, normalize=True).t())
    assert len(ours.mask_names) > 0
    assert (img - ref_img).abs().max() <= 1e-5
    # Logits (scale 14.3 times a cosine) inherit the text features' relative
    # error (~5e-7): up to ~7e-6 (3e-6 seen), so 1e-4; a real difference
    # (no normalisation, another scale) is of order 1.
    assert (logits - ref_logits).abs().max() <= 1e-4
    # Evaluation at step 0 is zero-shot CLIP bit for bit: exact by
    # construction, fresh masks fold to W * 1.0 == W and the image encoder
    # then runs the same kernels on the same shapes, in this process.
    assert torch.equal(img, ref_img)


def test_default_targets_are_the_papers_set():
    vit = MaskedCLIP(arch=TINY_VIT)
    layers = TINY_VIT['vision_cfg']['layers']
    assert vit.mask_names[0] == 'visual.conv1.weight'
    assert len(vit.mask_names) == 1 + 2 * layers
    assert all(n.endswith(('in_proj_weight', 'out_proj.weight'))
               for n in vit.mask_names[1:])
    resnet = MaskedCLIP(arch=TINY_RESNET)
    assert sorted(resnet.mask_names) == [
        'visual.attnpool.c_proj.weight', 'visual.attnpool.k_proj.weight',
        'visual.attnpool.q_proj.weight', 'visual.attnpool.v_proj.weight',
        'visual.conv1.weight'
    ]


def test_score_gradient_is_grad_of_effective_weight_times_weight():
    torch.manual_seed(0)
    model = MaskedCLIP(arch=TINY_VIT).train()
    name = 'visual.transformer.resblocks.1.attn.in_proj_weight'
    images = torch.rand(2, 3, 32, 32)
    model.encode_image(images).pow(2).sum().backward()
    got = model.masks[name].grad

    # Independent computation: make the frozen weight itself a leaf and
    # differentiate the plain open_clip forward w.r.t. it.
    reference = MaskedCLIP(arch=TINY_VIT).train()
    reference.clip.load_state_dict(model.clip.state_dict())
    weight = dict(reference.clip.named_parameters())[name]
    weight.requires_grad_(True)
    reference.clip.visual(images).pow(2).sum().backward()
    expected = weight.grad * weight.detach()
    # The same forward and backward kernels on both sides (equal here); the
    # tolerance only allows autograd another accumulation order, float32
    # relative error ~1e-7 per step: rtol 1e-5 leaves margin, atol 1e-7
    # covers entries that cancel to near zero (gradients here reach ~1.5).
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_scores_below_threshold_zero_exactly_those_weights():
    torch.manual_seed(0)
    model = MaskedCLIP(arch=TINY_VIT)
    name = 'visual.transformer.resblocks.0.attn.out_proj.weight'
    scores = model.masks[name]
    drop = torch.rand(scores.shape) < 0.3
    with torch.no_grad():
        scores[drop] = 0.004  # just under the 5e-3 threshold
        scores[~drop] = 0.006
    weight = dict(model.clip.named_parameters())[name]
    for training in (False, True):
        model.train(training)
        effective = model.effective_weights()[name[len('visual.'):]]
        # Exact: W * 0.0 is (+-)0 and W * 1.0 is W, bit for bit.
        assert torch.equal(effective[drop], torch.zeros(int(drop.sum())))
        assert torch.equal(effective[~drop], weight[~drop])


def test_teacher_pass_ignores_masks():
    torch.manual_seed(0)
    model = MaskedCLIP(arch=TINY_VIT).eval()
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        zero_shot = model.clip.encode_image(images)
        for _, scores in model.masks.items():
            scores.zero_()
        student = model.encode_image(images)
        teacher = model.encode_image(images, masked=False)
    # Exact: the very same modules, weights and input in this process.
    assert torch.equal(teacher, zero_shot)
    # Every masked weight is zero, so the features differ by the order of
    # their size, far beyond allclose's default 1e-5 relative tolerance.
    assert not torch.allclose(student, zero_shot)


def test_export_round_trip_is_exact(tmp_path):
    torch.manual_seed(0)
    model = MaskedCLIP(arch=TINY_VIT).eval()
    with torch.no_grad():
        for _, scores in model.masks.items():
            scores.copy_(torch.rand(scores.shape) * 0.01)
    path = str(tmp_path / 'exported.pt')
    torch.save(model.export_state_dict(), path)
    exported = openclip_reference(TINY_VIT, path)
    images = torch.rand(2, 3, 32, 32)
    # Exact by construction: both fold W * (M > alpha) with the same op and
    # run the same open_clip kernels on the same shapes, in this process.
    with torch.no_grad():
        assert torch.equal(exported.encode_image(images),
                           model.encode_image(images))


def test_sparsity_of_a_known_mask():
    model = MaskedCLIP(arch=TINY_VIT)
    first, second = model.mask_names[:2]
    with torch.no_grad():
        model.masks[first].view(-1)[:10] = 0.0
        model.masks[second].zero_()
    stats = model.sparsity()
    sizes = {n: s.numel() for n, s in model.masks.items()}
    # Exact: sparsity divides integer counts in Python, as here.
    assert stats[first] == 10 / sizes[first]
    assert stats[second] == 1.0
    assert stats[model.mask_names[2]] == 0.0
    assert stats['overall'] == (10 + sizes[second]) / sum(sizes.values())


def test_only_scores_train_and_weights_are_not_copied():
    model = MaskedCLIP(arch=TINY_VIT)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f'masks.scores.{n.replace(".", "__")}'
                         for n in model.mask_names}
    storages = [p.untyped_storage().data_ptr() for p in model.parameters()]
    assert len(storages) == len(set(storages))
    frozen = sum(p.numel() for p in model.clip.parameters())
    reference = sum(p.numel() for p in open_clip.CLIP(**TINY_VIT).parameters())
    assert frozen == reference
    # Checkpoints hold the scores only.
    assert set(model.state_dict()) == trainable


def test_unknown_architecture_names_candidates():
    with pytest.raises(ValueError, match="Unknown open_clip architecture "
                       "'ViT-B-61'.*ViT-B-16"):
        MaskedCLIP(arch='ViT-B-61')


def test_missing_pretrained_file():
    with pytest.raises(FileNotFoundError, match='nowhere.pt'):
        MaskedCLIP(arch=TINY_VIT, pretrained='/nowhere.pt')


def test_pretrained_of_another_architecture_names_keys(tmp_path):
    other = dict(TINY_VIT, vision_cfg=dict(TINY_VIT['vision_cfg'], layers=3))
    path = save_random_weights(other, str(tmp_path / 'other.pt'))
    with pytest.raises(ValueError,
                       match=r'unexpected keys \(\d+\): visual.transformer.'
                       r'resblocks.2'):
        MaskedCLIP(arch=TINY_VIT, pretrained=path)


def test_pattern_matching_nothing_lists_candidates():
    with pytest.raises(ValueError) as info:
        MaskedCLIP(arch=TINY_VIT, mask_targets=['visual.nothing.*'])
    message = str(info.value)
    assert message.startswith(
        "Mask pattern 'visual.nothing.*' matches no image-encoder weight. "
        'Candidates (2-D+ weights of the image encoder):\n  ')
    assert 'visual.transformer.resblocks.0.mlp.c_fc.weight' in message


def test_a_long_candidate_list_is_cut_after_forty_names():
    deep = dict(TINY_VIT, vision_cfg=dict(TINY_VIT['vision_cfg'], layers=12))
    with pytest.raises(ValueError) as info:
        MaskedCLIP(arch=deep, mask_targets=['visual.nothing.*'])
    listed = str(info.value).split('\n  ')[1:]
    assert len(listed) == 41 and listed[-1] == '...'
    assert listed[:40] == MaskedCLIP(arch=deep).candidate_names()[:40]


def test_construction_arguments_reach_the_model():
    init_cfg = dict(type='Pretrained', checkpoint='masks.pth')
    model = MaskedCLIP(arch=TINY_VIT, quick_gelu=True, score_init=0.02,
                       threshold=0.01, init_cfg=init_cfg)
    assert model.init_cfg == init_cfg
    assert isinstance(model.clip.visual.transformer.resblocks[0].mlp.gelu,
                      open_clip.transformer.QuickGELU)
    # New targets get the model's score init and threshold, on its device
    # (``meta`` stands in for an accelerator).
    model.set_mask_targets('visual.conv1.weight')
    # Exact: stored copies of the given floats (0.02 as float32 both sides).
    assert model.masks.threshold == 0.01
    assert bool((model.masks['visual.conv1.weight'] == 0.02).all())
    model.to('meta').set_mask_targets('visual.conv1.weight')
    assert model.masks['visual.conv1.weight'].device.type == 'meta'


def test_one_pattern_may_be_given_as_a_string():
    model = MaskedCLIP(arch=TINY_VIT,
                       mask_targets='visual.transformer.*.out_proj.weight')
    assert model.mask_names == [
        f'visual.transformer.resblocks.{i}.attn.out_proj.weight'
        for i in range(2)]


def test_openai_jit_archive_loads_with_quick_gelu(tmp_path):
    torch.manual_seed(0)
    arch = dict(TINY_VIT, quick_gelu=True)
    reference = open_clip.CLIP(**arch).eval()
    path = str(tmp_path / 'jit.pt')
    torch.jit.save(torch.jit.script(reference), path)
    ours = MaskedCLIP(arch=TINY_VIT, pretrained=path).eval()
    images = torch.rand(2, 3, 32, 32)
    # Exact: the same weights (copied out of the archive), fresh masks fold
    # to W * 1.0 == W, then the same kernels run in this process.
    with torch.no_grad():
        assert torch.equal(ours.encode_image(images),
                           reference.encode_image(images))


def test_training_graph_does_not_keep_masked_weights_alive(monkeypatch):
    import weakref
    model = MaskedCLIP(arch=TINY_VIT).train()
    made = []
    original = model.masks.effective

    def recording(name, weight):
        out = original(name, weight)
        made.append(weakref.ref(out))
        return out

    monkeypatch.setattr(model.masks, 'effective', recording)
    features = model.encode_image(torch.rand(2, 3, 32, 32))
    assert len(made) == len(model.mask_names)
    # The graph is alive (features needs backward), the copies are not.
    assert all(ref() is None for ref in made)
    features.sum().backward()
    assert all(s.grad is not None for _, s in model.masks.items())


def folded_open_clip(model: MaskedCLIP, threshold: float = 5e-3):
    """A plain open_clip CLIP whose weights are the model's frozen weights
    times ``scores > threshold``, folded here independently."""
    state = model.clip.state_dict()
    for name, scores in model.masks.items():
        state[name] = state[name] * (scores.detach() > threshold)
    plain = open_clip.CLIP(**TINY_VIT).eval()
    plain.load_state_dict(state)
    return plain


def test_evaluation_folds_the_masks_once():
    model = MaskedCLIP(arch=TINY_VIT).eval()
    with torch.no_grad():
        first = model.effective_weights()
        again = model.effective_weights()
    assert all(again[k] is first[k] for k in first)


def test_folded_evaluation_weights_follow_a_new_selection():
    """Masks on other weights (a mask file of another selection) replace
    the folded weights, even when the new scores have the versions of the
    old ones."""
    torch.manual_seed(0)
    in_proj = [f'visual.transformer.resblocks.{i}.attn.in_proj_weight'
               for i in range(2)]
    out_proj = [f'visual.transformer.resblocks.{i}.attn.out_proj.weight'
                for i in range(2)]
    model = MaskedCLIP(arch=TINY_VIT, mask_targets=in_proj).eval()
    params = dict(model.clip.named_parameters())
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        model.load_hard_masks(
            {n: torch.rand(params[n].shape) > 0.5 for n in in_proj})
        model.encode_image(images)
        model.load_hard_masks(
            {n: torch.rand(params[n].shape) > 0.5 for n in out_proj})
        assert model.mask_names == out_proj
        # Exact, as every comparison with folded_open_clip: W * mask is
        # folded with the same op and the same kernels run on both sides.
        assert torch.equal(model.encode_image(images),
                           folded_open_clip(model).encode_image(images))


def test_folded_evaluation_weights_follow_in_place_score_changes():
    """Evaluation folds the masks once and reuses them; every in-place way
    the scores change (a copy, an optimiser step, a checkpoint load) must
    rebuild them."""
    torch.manual_seed(0)
    model = MaskedCLIP(arch=TINY_VIT).eval()
    images = torch.rand(2, 3, 32, 32)
    name = model.mask_names[1]
    optimizer = torch.optim.SGD([model.masks[name]], lr=1.0)
    other = MaskedCLIP(arch=TINY_VIT)
    with torch.no_grad():
        for _, scores in other.masks.items():
            scores.copy_(torch.rand(scores.shape) * 0.01)

    def copy():
        with torch.no_grad():
            model.masks[name].copy_(torch.rand(model.masks[name].shape) *
                                    0.01)

    def optimiser_step():
        model.masks[name].grad = torch.rand(model.masks[name].shape) * 0.01
        optimizer.step()

    for change in (copy, optimiser_step,
                   lambda: model.load_state_dict(other.state_dict())):
        with torch.no_grad():
            before = model.encode_image(images)
            change()
            after = model.encode_image(images)
            expected = folded_open_clip(model).encode_image(images)
        # The change flips about half the masks: the features move.
        assert not torch.equal(before, expected)
        assert torch.equal(after, expected)


def test_a_score_exactly_at_the_threshold_is_dropped_everywhere(tmp_path):
    """``M > alpha`` keeps: a score equal to alpha is dropped in the
    effective weight (training and evaluation), the hard mask, the sparsity
    and the mask file alike."""
    model = MaskedCLIP(arch=TINY_VIT)
    name = model.mask_names[1]
    scores = model.masks[name]
    threshold = torch.tensor(model.threshold, dtype=scores.dtype)
    above = torch.nextafter(threshold, torch.tensor(1.0))
    below = torch.nextafter(threshold, torch.tensor(0.0))
    with torch.no_grad():
        flat = scores.view(-1)
        flat[:10] = threshold
        flat[10:20] = below
        flat[20:] = above
    kept = torch.ones(scores.numel(), dtype=torch.bool)
    kept[:20] = False
    kept = kept.view(scores.shape)
    weight = dict(model.clip.named_parameters())[name]
    # All exact: masks are booleans, W * 1.0 / W * 0.0 are W / 0 bit for
    # bit, and sparsities divide integer counts in Python, as here.
    for training in (True, False):
        model.train(training)
        effective = model.effective_weights()[name[len('visual.'):]]
        assert torch.equal(effective, weight * kept)
    assert torch.equal(model.hard_masks()[name], kept)
    assert model.sparsity()[name] == 20 / scores.numel()
    path = str(tmp_path / 'masks.pth')
    model.save_masks(path)
    masks, meta = load_mask_file(path)
    assert torch.equal(masks[name], kept)
    assert meta['sparsity'] == 20 / sum(s.numel()
                                        for _, s in model.masks.items())
    assert torch.equal(model.export_state_dict()[name], weight * kept)


def test_score_defaults_are_the_papers_and_must_start_kept():
    from rmt_mm.models.masks import MaskScores

    # method.md section 3: alpha = 5e-3, scores initialised to 1e-2.
    scores = MaskScores({'w': (2, 3)})
    # Exact: stored copies of the defaults, filled as float32 both sides.
    assert (scores.init, scores.threshold) == (1e-2, 5e-3)
    assert torch.equal(scores['w'], torch.full((2, 3), 1e-2))
    # An init at the threshold would drop every entry at step 0.
    with pytest.raises(ValueError, match='above the threshold'):
        MaskScores({'w': (2, 3)}, init=5e-3, threshold=5e-3)


def test_a_checkpoint_with_another_selection_brings_its_targets():
    # A ParameterSelector run saves other targets than the config's default;
    # loading its state dict switches the model to them.
    chosen = ['visual.transformer.resblocks.0.attn.out_proj.weight']
    selected = MaskedCLIP(arch=TINY_VIT, mask_targets=chosen)
    selected.masks.scores[chosen[0].replace('.', '__')].data[0] = 0
    default = MaskedCLIP(arch=TINY_VIT)
    assert default.mask_names != chosen
    default.load_state_dict(selected.state_dict())
    assert default.mask_names == chosen
    assert torch.equal(default.hard_masks()[chosen[0]],
                       selected.hard_masks()[chosen[0]])


def test_training_keeps_batchnorm_statistics_of_the_frozen_resnet():
    torch.manual_seed(0)
    clip = MaskedCLIP(arch=TINY_RESNET)
    norms = [m for m in clip.clip.modules()
             if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms
    before = [m.running_mean.clone() for m in norms]
    clip.train()
    assert clip.training and not clip.clip.training
    images = torch.randn(4, 3, 64, 64)
    clip.encode_image(images).sum().backward()  # student pass
    clip.encode_image(images, masked=False)  # teacher pass
    # Untouched buffers: copied values, exact.
    assert all(torch.equal(m.running_mean, b) for m, b in zip(norms, before))


def test_magnitude_stagger_orders_initial_scores_by_weight_size():
    """Scores rise linearly with the rank of ``|W|`` inside each tensor,
    from just above the threshold to ``2 * init - threshold``; ranks here
    come from numpy's sort, an independent computation. Continuous random
    weights have no ties, so ranks are exact, and the scores too (float64,
    the same IEEE operations in the same order)."""
    import numpy as np

    from rmt_mm.models.masks import MaskScores
    generator = torch.Generator().manual_seed(0)
    weights = {'a.weight': torch.randn(5, 7, generator=generator,
                                       dtype=torch.float64),
               'b.weight': torch.randn(11, generator=generator,
                                       dtype=torch.float64)}
    scores = MaskScores({n: w.shape for n, w in weights.items()},
                        init=1e-2, threshold=5e-3, dtype=torch.float64)
    scores.stagger(weights, 'magnitude')
    for name, weight in weights.items():
        size = np.abs(weight.numpy().ravel())
        rank = np.empty(size.size)
        rank[np.argsort(size, kind='stable')] = np.arange(1, size.size + 1)
        expected = 5e-3 + (2 * (1e-2 - 5e-3)) * (rank / size.size)
        np.testing.assert_array_equal(
            scores[name].detach().numpy().ravel(), expected)
        assert (scores[name] > 5e-3).all()
