"""Pins R-AMT itself: a short run through the Runner (the package's
classifier, optim wrapper, hooks and schedule) equals a plain,
independent re-implementation of the paper's formulas, entry by entry.

The reference below shares no code with rmt_mm: it masks the open_clip
weights itself (straight-through estimator written as ``W * hard + W * (M
- M.detach())``), computes both losses, both gradients and the gradient
dropout rule of method.md sections 3 to 6, and steps torch's Adam on a
per-epoch cosine schedule. It replays the very batches the Runner trained
on, and draws the dropout uniforms as the package promises to draw them
(one generator per update, seeded by ``seed * 1_000_003 + update``, one
draw per masked tensor in model order), so that a refactoring which
changes the draws, masks the teacher or alters a loss fails here.

Both sides run in float64 in one process, so the check holds on any CPU
and thread count: float64 rounding (about 1e-16 relative) stays many
orders of magnitude below what any change of the method moves (a score
moves by about the learning rate, 1e-2, per update).
"""
import math

import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from rmt_testing import TINY_VIT, make_image_folder, write_tiny_config
from torch.func import functional_call

from rmt_mm.runs.launch import (apply_auto_scale_lr, apply_global_batch_size,
                                check_train_config)

# method.md sections 3 to 6.
SCORE_INIT, THRESHOLD, BETA, TEMPERATURE, EPS = 1e-2, 5e-3, 1e-4, 1.0, 1e-8
EPOCHS, LR, SEED = 2, 1e-2, 1
# The paper's masked weights of a 2-block ViT, in model order.
MASKED = ['visual.conv1.weight'] + [
    f'visual.transformer.resblocks.{i}.attn.{w}'
    for i in range(TINY_VIT['vision_cfg']['layers'])
    for w in ('in_proj_weight', 'out_proj.weight')
]
# Scores of both implementations agree to float64 rounding accumulated over
# the run (at most 2e-14 measured); 1e-10 leaves four orders of magnitude for
# other CPUs' kernels and stays eight below what any change of the method
# moves a score (about the learning rate, 1e-2, per update).
SCORE_ATOL = 1e-10
# Entries closer than this to the threshold could binarise either way under
# that rounding; there are none in practice (asserted to be at most a few).
CLOSE_TO_THRESHOLD = 1e-9


class BatchRecorder(Hook):
    """Keeps every training batch as the Runner hands it to the model."""

    def __init__(self) -> None:
        self.batches = []

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.batches.append((runner.epoch, data_batch))


def package_run(tmp_path, lam: float):
    """The package's run, as tools/train.py does it in one process, with
    the model in float64."""
    data = make_image_folder(str(tmp_path / 'data'))
    cfg = Config.fromfile(
        write_tiny_config(str(tmp_path / 'tiny.py'), data, epochs=EPOCHS))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.optim_wrapper.lam = lam
    cfg.optim_wrapper.optimizer.lr = LR
    cfg.randomness = dict(seed=SEED)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='RMTCheckpointHook',
                                        interval=-1)
    cfg.log_level = 'WARNING'
    check_train_config(cfg)
    apply_global_batch_size(cfg, 1)
    apply_auto_scale_lr(cfg, 1)
    runner = Runner.from_cfg(cfg)
    # Before train(): the optimizer and the text features are built from
    # the float64 parameters.
    runner.model.double()
    recorder = BatchRecorder()
    runner.register_hook(recorder)
    runner.train()
    return runner, recorder.batches


def reference_run(runner, batches, lam: float) -> dict:
    """R-AMT from the paper's formulas on a plain open_clip CLIP."""
    package = runner.model
    clip = open_clip.CLIP(**TINY_VIT).double().eval()
    clip.load_state_dict(package.backbone.clip.state_dict())
    clip.requires_grad_(False)
    weights = dict(clip.named_parameters())
    scores = {n: torch.full_like(weights[n], SCORE_INIT, requires_grad=True)
              for n in MASKED}
    optimizer = torch.optim.Adam(scores.values(), lr=LR, betas=(0.9, 0.999),
                                 weight_decay=0.)

    classes = runner.train_dataloader.dataset.metainfo['classes']
    tokens = open_clip.tokenize(
        [f'a photo of a {c.replace("_", " ").lower()}.' for c in classes],
        context_length=TINY_VIT['text_cfg']['context_length'])
    with torch.no_grad():
        text = F.normalize(clip.encode_text(tokens), dim=-1)
    scale = clip.logit_scale.exp()

    def logits(images, masked: bool):
        local = {}
        if masked:
            for n, m in scores.items():
                hard = (m > THRESHOLD).double()
                # Value W * hard; gradient w.r.t. M is dL/dW_eff * W.
                local[n[len('visual.'):]] = (weights[n] * hard +
                                             weights[n] * (m - m.detach()))
        features = functional_call(clip.visual, local, (images, ),
                                   strict=False)
        return scale * F.normalize(features, dim=-1) @ text.t()

    for update, (epoch, batch) in enumerate(batches):
        for group in optimizer.param_groups:
            group['lr'] = LR * (1 + math.cos(math.pi * epoch / EPOCHS)) / 2
        data = package.data_preprocessor(batch, True)
        images = data['inputs']
        labels = torch.cat([s.gt_label for s in data['data_samples']])
        assert images.dtype == torch.float64
        student = logits(images, masked=True)
        with torch.no_grad():
            teacher = logits(images, masked=False)
        names = list(scores)
        task = F.cross_entropy(student, labels) + BETA * sum(
            torch.linalg.vector_norm(scores[n]) for n in names)
        reg = -(F.softmax(teacher / TEMPERATURE, -1) *
                F.log_softmax(student / TEMPERATURE, -1)).sum(-1).mean()
        reg = reg * TEMPERATURE**2
        g_all = torch.autograd.grad(task, [scores[n] for n in names],
                                    retain_graph=True)
        r_all = torch.autograd.grad(reg, [scores[n] for n in names])
        generator = torch.Generator().manual_seed(
            (SEED * 1_000_003 + update) % 2**63)
        for n, g, r in zip(names, g_all, r_all):
            keep_prob = (1 + torch.sign(g) * (g + r) /
                         (g.abs() + r.abs() + EPS)) / 2
            uniform = torch.rand(g.shape, generator=generator,
                                 dtype=torch.float64)
            scores[n].grad = ((1 - lam) + lam *
                              (keep_prob > uniform).double()) * g
        optimizer.step()
        optimizer.zero_grad()
    return {n: s.detach() for n, s in scores.items()}


@pytest.mark.parametrize('lam', [0.3, 1.0])
def test_short_rmt_run_equals_the_papers_formulas(tmp_path, lam):
    runner, batches = package_run(tmp_path, lam)
    updates = runner.optim_wrapper.num_updates
    assert len(batches) == updates > 1
    reference = reference_run(runner, batches, lam)

    backbone = runner.model.backbone
    assert backbone.mask_names == MASKED
    assert 0 < backbone.sparsity()['overall'] < 1
    close = 0
    for name in MASKED:
        ours, theirs = backbone.masks[name].detach(), reference[name]
        assert ours.dtype == torch.float64
        assert torch.allclose(ours, theirs, rtol=0, atol=SCORE_ATOL), name
        # The threshold comparison is exact, so the masks are equal
        # wherever rounding cannot put a score on the other side of it.
        clear = (theirs - THRESHOLD).abs() > CLOSE_TO_THRESHOLD
        close += int((~clear).sum())
        assert torch.equal(backbone.masks.hard_mask(name)[clear],
                           (theirs > THRESHOLD)[clear]), name
    assert close <= 3
