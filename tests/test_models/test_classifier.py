import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.evaluation import Accuracy
from mmpretrain.structures import DataSample
from rmt_testing import TINY_VIT, save_random_weights

from rmt_mm.models import RMTClassifier, distillation_loss

CLASSES = ('tabby_cat', 'Golden Retriever', 'sparrow')
TEMPLATES = ('a photo of a {}.', 'a sketch of a {}.')


@pytest.fixture
def classifier():
    torch.manual_seed(0)
    return RMTClassifier(
        backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT),
        classnames=CLASSES,
        templates=TEMPLATES)


def test_text_head_is_normalised_prompt_ensemble(classifier):
    clip = classifier.backbone.clip
    tokenizer = open_clip.SimpleTokenizer(context_length=16)
    expected = []
    with torch.no_grad():
        for name in CLASSES:
            # method.md section 4: underscores to spaces, lower case
            prompts = [t.format(name.replace('_', ' ').lower())
                       for t in TEMPLATES]
            feats = F.normalize(clip.encode_text(tokenizer(prompts)), dim=-1)
            expected.append(F.normalize(feats.mean(0), dim=-1))
    # The head batches the prompts otherwise, so float32 matmuls may sum in
    # another order: text features agree to ~5e-7 relative, and so do these
    # unit-vector entries (2.4e-7 seen). 1e-5 leaves margin on other CPUs;
    # a wrong template or normalisation moves entries by more than 1e-2.
    assert torch.allclose(classifier.text_features, torch.stack(expected),
                          atol=1e-5)


def test_logits_are_scaled_cosine(classifier):
    images = torch.rand(4, 3, 32, 32)
    clip = classifier.backbone.clip
    with torch.no_grad():
        feats = F.normalize(clip.encode_image(images), dim=-1)
        expected = (clip.logit_scale.exp() * feats
                    @ classifier.text_features.t())
        got = classifier(images, mode='tensor')
    # Exact in fact (fresh masks fold to W * 1.0 == W, then the same image
    # kernels and the same product run here); 1e-5 on logits <= 14.3 is a
    # few ulp, against an error of order 1 for a wrong scale or cosine.
    assert torch.allclose(got, expected, atol=1e-5)


def test_loss_terms(classifier):
    classifier.train()
    images = torch.rand(4, 3, 32, 32)
    labels = [0, 2, 1, 1]
    samples = [DataSample().set_gt_label(k) for k in labels]
    losses = classifier(images, samples, mode='loss')
    with torch.no_grad():
        logits = classifier.logits(images)
    # With and without autograd the matmuls may take other paths: float32
    # logits agree to ~1e-6 relative, the cross-entropy (~2.3) to about the
    # same (1e-7 seen); rel=1e-5 leaves margin. The sparsity term is 1e-4
    # times a sum of float32 norms, summed here in float64: ~1e-7 relative.
    assert losses['loss_ce'].item() == pytest.approx(
        F.cross_entropy(logits, torch.tensor(labels)).item(), rel=1e-5)
    norms = sum(s.detach().flatten().norm().item()
                for _, s in classifier.backbone.masks.items())
    assert losses['loss_sparsity'].item() == pytest.approx(1e-4 * norms,
                                                           rel=1e-5)
    # Exact: zero dropped entries give 0 / n == 0.0; reg_distill is the
    # same tensor detached.
    assert losses['sparsity'].item() == 0.0
    step_losses, reg = classifier.step_losses(images, samples)
    assert reg.requires_grad and reg.item() == losses['reg_distill'].item()
    assert set(step_losses) == set(losses)
    # mmengine sums only the task terms; the regulariser goes elsewhere.
    total, log_vars = classifier.parse_losses(losses)
    # The same two float32 terms added (exact in fact); approx's default
    # rel=1e-6 only allows mmengine another order or a float64 sum.
    assert total.item() == pytest.approx(
        (losses['loss_ce'] + losses['loss_sparsity']).item())
    assert 'reg_distill' in log_vars


def test_a_training_step_runs_the_text_head_once(classifier, monkeypatch):
    """Student and teacher share one pass of the head: with CoOp a pass
    runs the text encoder over every class name (1,000 prompts on
    ImageNet)."""
    calls = []
    head = classifier._class_features
    monkeypatch.setattr(classifier, '_class_features',
                        lambda: calls.append(1) or head())
    classifier.train()
    classifier(torch.rand(2, 3, 32, 32),
               [DataSample().set_gt_label(k) for k in (0, 1)], mode='loss')
    assert len(calls) == 1


def plain_open_clip_logits(clip: open_clip.CLIP, images, prompts_by_class):
    """CLIP's zero-shot logits written against open_clip alone."""
    tokenizer = open_clip.SimpleTokenizer(context_length=16)
    with torch.no_grad():
        classes = torch.stack([
            F.normalize(F.normalize(clip.encode_text(tokenizer(prompts)),
                                    dim=-1).mean(0), dim=-1)
            for prompts in prompts_by_class])
        feats = F.normalize(clip.encode_image(images), dim=-1)
        return clip.logit_scale.exp() * feats @ classes.t()


def test_teacher_is_the_unmasked_model(tmp_path):
    """The distillation target is zero-shot CLIP whatever the masks are: with
    most weights masked off, ``reg_distill`` must be the cross-entropy of the
    student against plain open_clip's logits (a teacher that ran with the
    masks would give the student's own entropy instead)."""
    weights = save_random_weights(TINY_VIT, str(tmp_path / 'clip.pt'))
    model = RMTClassifier(
        backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT, pretrained=weights),
        classnames=CLASSES, templates=TEMPLATES).train()
    torch.manual_seed(1)
    with torch.no_grad():
        for _, scores in model.backbone.masks.items():
            scores.copy_(torch.rand(scores.shape) * 0.01)  # ~half dropped
    images = torch.rand(4, 3, 32, 32)
    samples = [DataSample().set_gt_label(k) for k in (0, 1, 2, 0)]
    losses = model(images, samples, mode='loss')

    plain = open_clip.CLIP(**TINY_VIT).eval()
    open_clip.load_checkpoint(plain, weights)
    prompts = [[t.format(c.replace('_', ' ').lower()) for t in TEMPLATES]
               for c in CLASSES]
    teacher = plain_open_clip_logits(plain, images, prompts)
    folded = {name: param * (model.backbone.masks[name] > 5e-3)
              for name, param in plain.named_parameters()
              if name in model.backbone.masks}
    student_clip = open_clip.CLIP(**TINY_VIT).eval()
    student_clip.load_state_dict(dict(plain.state_dict(), **folded))
    student = plain_open_clip_logits(student_clip, images, prompts)
    # Margins: the logits differ by ~1.9 (not within 1e-2), the two
    # entropies by ~0.1 (above 1e-2); float noise is ~1e-6.
    assert not torch.allclose(student, teacher, atol=1e-2)

    expected = -(F.softmax(teacher, -1) *
                 F.log_softmax(student, -1)).sum(-1).mean()
    own_entropy = -(F.softmax(student, -1) *
                    F.log_softmax(student, -1)).sum(-1).mean()
    assert abs(expected - own_entropy) > 1e-2
    # Our masked pass and plain open_clip with folded weights run other
    # matmul paths: float32 logits agree to ~1e-6 relative, the loss (~0.4)
    # too (7e-8 seen). rel=1e-4 leaves wide margin and still tells the
    # unmasked teacher from a masked one (~24% apart, see above).
    assert losses['reg_distill'].item() == pytest.approx(expected.item(),
                                                         rel=1e-4)


def test_distillation_gradient_equals_kl_gradient():
    torch.manual_seed(0)
    teacher = torch.randn(5, 7)
    for temperature in (1.0, 2.0):
        student = torch.randn(5, 7, requires_grad=True)
        distillation_loss(student, teacher, temperature).backward()
        ours = student.grad.clone()
        student.grad = None
        kl = F.kl_div(F.log_softmax(student / temperature, -1),
                      F.softmax(teacher / temperature, -1),
                      reduction='batchmean') * temperature**2
        kl.backward()
        # Two formulas for the same float32 gradient (entries <= ~0.15,
        # ulp ~1.5e-8): a few ulp apart at most; atol 1e-6 leaves margin.
        assert torch.allclose(ours, student.grad, atol=1e-6)


def test_predict_feeds_mmpretrain_accuracy(classifier):
    classifier.eval()
    images = torch.rand(6, 3, 32, 32)
    samples = [DataSample().set_gt_label(k % 3) for k in range(6)]
    with torch.no_grad():
        outputs = classifier(images, samples, mode='predict')
        logits = classifier.logits(images)
    # Exact: both passes run the same kernels on the same input in this
    # process, and labels are integers.
    assert torch.equal(torch.cat([o.pred_label for o in outputs]),
                       logits.argmax(-1))
    metric = Accuracy(topk=(1, ))
    metric.process(None, [o.to_dict() for o in outputs])
    accuracy = metric.compute_metrics(metric.results)['top1']
    expected = (logits.argmax(-1) == torch.arange(6) % 3).float().mean()
    # A multiple of 100 / 6 rounded once or twice in float32 (~1e-7
    # relative); approx's default rel=1e-6 is enough.
    assert accuracy == pytest.approx(100 * expected.item())


def test_predict_without_data_samples_makes_them(classifier):
    classifier.eval()
    images = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        outputs = classifier(images, mode='predict')
        logits = classifier.logits(images)
    assert len(outputs) == 4
    for output, row in zip(outputs, logits):
        assert output.pred_label.tolist() == [int(row.argmax())]
        # The same logits (same kernels, this process); softmax batched or
        # row by row may vectorise otherwise: a few ulp, under the default
        # rtol=1e-5.
        assert torch.allclose(output.pred_score, F.softmax(row, -1))


def test_missing_classes_are_a_clear_error():
    model = RMTClassifier(backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT))
    with pytest.raises(RuntimeError) as info:
        model(torch.rand(1, 3, 32, 32), mode='tensor')
    assert str(info.value) == (
        'RMTClassifier has no classes yet: give `classnames` in the model '
        'config or add RMTClassPromptHook to custom_hooks so that the '
        "dataset's classes and templates are used.")


def test_init_cfg_reaches_mmengine():
    init_cfg = dict(type='Pretrained', checkpoint='epoch_3.pth')
    model = RMTClassifier(backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT),
                          classnames=CLASSES, init_cfg=init_cfg)
    assert model.init_cfg == init_cfg


def test_forward_modes(classifier):
    images = torch.rand(2, 3, 32, 32)
    samples = [DataSample().set_gt_label(k) for k in (0, 1)]
    logits = classifier.logits(images)
    # Exact: the same kernels on the same input in this process; labels are
    # integers.
    assert torch.equal(classifier(images), logits)  # 'tensor' by default
    assert set(classifier(images, samples, mode='loss')) >= {'loss_ce'}
    predicted = classifier(images, mode='predict')
    assert [int(p.pred_label) for p in predicted] == \
        logits.argmax(dim=1).tolist()
    with pytest.raises(RuntimeError) as info:
        classifier(images, mode='train')
    assert str(info.value) == 'Invalid mode "train".'


def test_checkpoints_leave_out_the_frozen_clip_and_load_strictly():
    def build(seed):
        torch.manual_seed(seed)
        return RMTClassifier(
            backbone=dict(type='RMTMaskedCLIP', arch=TINY_VIT),
            head=dict(type='RMTCoOpHead', num_context=2), classnames=CLASSES)

    state = build(0).state_dict()
    assert not any('.clip.' in k for k in state)
    assert any('backbone.masks.scores.' in k for k in state)
    other = build(1)
    other.load_state_dict(state)  # strict: the frozen CLIP is not missing
    # Exact: loading copies the values.
    assert torch.equal(other.head.context, state['head.context'])
    # Other missing weights are still reported.
    del state['head.context']
    with pytest.raises(RuntimeError, match='Missing key.*head.context'):
        other.load_state_dict(state)
    # A state without any scores keeps the model's mask selection.
    names = other.backbone.mask_names
    other.load_state_dict({}, strict=False)
    assert other.backbone.mask_names == names
