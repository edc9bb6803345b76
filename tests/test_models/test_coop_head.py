"""CoOp's class head against an independent construction of its prompts."""
import open_clip
import pytest
import torch
import torch.nn.functional as F
from rmt_testing import TINY_VIT

from rmt_mm.models import RMTClassifier, class_text_features

# Names of different token lengths, with CoOp's name clean-up.
CLASSES = ('cat', 'Golden_Retriever', 'red eared slider turtle')
M = 4


@pytest.fixture
def coop():
    torch.manual_seed(0)
    return RMTClassifier(
        backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT, mask_targets=None),
        head=dict(type='RMTCoOpHead', num_context=M),
        regularizer=None,
        classnames=CLASSES)


def test_token_embeddings_are_sot_context_name_eot_padding(coop):
    head, clip = coop.head, coop.backbone.clip
    tokenizer = open_clip.SimpleTokenizer(context_length=16)
    embed = clip.token_embedding.weight
    got = head.token_embeddings()
    for row, name in zip(got, CLASSES):
        name_ids = tokenizer.encode(name.replace('_', ' ').lower() + '.')
        ids = [tokenizer.sot_token_id] + [-1] * M + name_ids + [
            tokenizer.eot_token_id]
        ids += [0] * (16 - len(ids))
        expected = torch.stack([
            head.context[i - 1] if t == -1 else embed[t]
            for i, t in enumerate(ids)])
        # Exact: embedding rows are copied, not computed.
        assert torch.equal(row, expected), name
    # open_clip pools at the end-of-text token: it must sit after the name.
    eot = head.tokens.argmax(-1).tolist()
    assert eot == [1 + M + len(tokenizer.encode(
        n.replace('_', ' ').lower() + '.')) for n in CLASSES]
    assert len(set(eot)) == 3


def test_context_of_a_hand_written_prompt_gives_its_features(coop):
    clip = coop.backbone
    ids = torch.tensor(clip.tokenizer.encode('a photo of a'))
    assert len(ids) == M
    with torch.no_grad():
        coop.head.context.copy_(clip.clip.token_embedding(ids))
    coop.eval()
    expected = class_text_features(clip, CLASSES, ['a photo of a {}.'])
    # The head runs the text transformer on its own prompt embeddings,
    # encode_text on token ids: other float32 paths, unit-vector entries a
    # few ulp apart (3e-8 seen); atol 1e-6 leaves margin, a wrong context or
    # position moves entries by ~1e-2 or more.
    assert torch.allclose(coop.text_features, expected, atol=1e-6)


def test_only_the_context_trains(coop):
    coop.train()
    trainable = [n for n, p in coop.named_parameters() if p.requires_grad]
    assert trainable == ['head.context']
    images = torch.rand(2, 3, 32, 32)
    logits = coop.logits(images)
    F.cross_entropy(logits, torch.tensor([0, 2])).backward()
    # Nonzero by a wide margin (gradients of order 1, not rounding).
    assert coop.head.context.grad.abs().sum() > 0


def test_fixed_names_must_be_the_datasets(coop):
    coop.set_dataset_classes(CLASSES, ['{}.'])  # the same names: fine
    with pytest.raises(ValueError) as info:
        coop.set_dataset_classes(('dog', 'cat', 'bird'), ['{}.'])
    assert str(info.value) == (
        "RMTCoOpHead was given fixed classnames ['cat', 'Golden_Retriever', "
        "'red eared slider turtle']... that differ from the dataset's "
        "['dog', 'cat', 'bird']...; its context is trained on the dataset's "
        'labels. Remove `classnames` from the model config (the dataset '
        "gives them) or give exactly the dataset's names in its order.")


def test_too_long_prompt_is_a_clear_error():
    with pytest.raises(ValueError, match='lower num_context'):
        RMTClassifier(
            backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT,
                          mask_targets=None),
            head=dict(type='RMTCoOpHead', num_context=12), regularizer=None,
            classnames=('a very long class name indeed',))


def test_fixed_names_error_shows_five_names_of_each():
    names = tuple(f'c{i}' for i in range(7))
    model = RMTClassifier(
        backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT, mask_targets=None),
        head=dict(type='RMTCoOpHead', num_context=M), regularizer=None,
        classnames=names)
    with pytest.raises(ValueError) as info:
        model.set_dataset_classes(names[::-1], ['{}.'])
    assert ("classnames ['c0', 'c1', 'c2', 'c3', 'c4']... that differ from "
            "the dataset's ['c6', 'c5', 'c4', 'c3', 'c2']...;"
            in str(info.value))
