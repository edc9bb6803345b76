"""The miniature world: scenes and captions, pre-training, the shipped
CLIP's zero-shot knowledge and the downstream tasks."""
import json
import os

import numpy as np
import open_clip
import torch
from mmengine.config import Config
from rmt_miniature import WEIGHTS, config_path
from rmt_miniature.pretrain import (MINI_CLIP_ARCH, pretrain, save_weights,
                                    zero_shot_top1)
from rmt_miniature.scenes import (COLOURS, POSITIONS, SHAPES, SIZES,
                                  caption_fits, describe, held_out_pairs,
                                  render, sample_scenes)
from rmt_miniature.tasks import TASKS, write_task

from rmt_mm.datasets import FewShotImageFolder
from rmt_mm.models import build_open_clip, build_tokenizer

MINI_CONFIG = config_path('compositions')
SMALL_ARCH = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8,
                    head_width=16),
    text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2,
                  layers=1))


def _attributes_said(caption: str) -> dict:
    """Reads the attributes back from a caption's words."""
    said = {'colour': next(c for c in COLOURS if f' {c} ' in f' {caption} ')}
    said['shape'] = next(s for s in SHAPES if s in caption)
    said['size'] = next((s for s in SIZES if f'{s} ' in caption), None)
    said['striped'] = 'striped' in caption
    said['position'] = next((p for p in POSITIONS if p in caption), None)
    return said


def test_caption_fits_matches_the_caption_words():
    rng = np.random.default_rng(3)
    scenes = sample_scenes(rng, 60)
    texts, mentioned = describe(scenes, rng)
    fits = caption_fits(scenes, mentioned)
    for j, text in enumerate(texts):
        said = _attributes_said(text)
        for i in range(len(scenes)):
            expected = (
                list(COLOURS)[scenes.colour[i]] == said['colour']
                and SHAPES[scenes.shape[i]] == said['shape']
                and said['size'] in (None, list(SIZES)[scenes.size[i]])
                and (not said['striped'] or scenes.texture[i] == 1)
                and said['position'] in (
                    None, list(POSITIONS)[scenes.position[i]]))
            assert fits[i, j] == expected, (i, text)
    assert fits.diagonal().all()


def test_rendering_draws_the_colour_and_depends_only_on_the_seed():
    def draw(seed):
        rng = np.random.default_rng(seed)
        scenes = sample_scenes(rng, 8, pairs=[('red', 'square')])
        return render(scenes, rng, 'plain')

    images = draw(0)
    assert images.shape == (8, 32, 32, 3) and images.dtype == np.uint8
    # Exact: uint8 images drawn twice by the same code from the same seed.
    assert np.array_equal(images, draw(0))
    assert not np.array_equal(images, draw(1))
    # The brightest-red pixels are the square's: red dominates there
    # ((242, 31, 23) here: margins of ~70-90 levels against any rounding).
    reddest = images.reshape(-1, 3)[images[..., 0].argmax()]
    assert reddest[0] > 150 and reddest[1] < 100 and reddest[2] < 100


def test_pretraining_is_seeded_and_trains_only_the_world_words(tmp_path):
    def run(seed):
        return pretrain(SMALL_ARCH, steps=3, batch_size=16, seed=seed,
                        log=lambda _: None).state_dict()

    first, again, other = run(0), run(0), run(1)
    # Exact: the same seeded float operations twice in this process.
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first['visual.conv1.weight'],
                           other['visual.conv1.weight'])
    torch.manual_seed(0)
    initial = open_clip.CLIP(**SMALL_ARCH).state_dict()
    changed = (first['token_embedding.weight'] !=
               initial['token_embedding.weight']).any(1)
    tokenizer = build_tokenizer(SMALL_ARCH)
    red = tokenizer(['red'])[0, 1]
    assert changed[red] and 0 < changed.sum() < 200
    # The saved file loads with the safe loader into rmt_mm's builder.
    model = pretrain(SMALL_ARCH, steps=1, batch_size=8, log=lambda _: None)
    save_weights(model, str(tmp_path / 'mini.pt'))
    state = torch.load(tmp_path / 'mini.pt', weights_only=True)
    assert all(v.dtype == torch.float16 for v in state.values())
    build_open_clip(SMALL_ARCH, str(tmp_path / 'mini.pt'))


def test_shipped_clip_knows_the_world_and_random_weights_do_not():
    """Zero-shot on a fixed set of 'compositions' test scenes (cluttered
    style, all 36 classes incl. the held-out pairs): at least 2x chance for
    the shipped weights, below it for the same network with random ones."""
    cfg = Config.fromfile(MINI_CONFIG)
    arch = cfg.model.backbone.arch.to_dict()
    assert arch == MINI_CLIP_ARCH
    # Found next to the project's configs, whatever the working directory.
    weights = cfg.model.backbone.pretrained
    assert os.path.samefile(weights, WEIGHTS)
    assert os.path.getsize(weights) < 10 * 2**20
    classes = TASKS['compositions'].classes
    rng = np.random.default_rng(1234)
    labels = np.repeat(np.arange(len(classes)), 5)
    images = np.concatenate([
        render(sample_scenes(rng, 5, cls.pairs), rng, 'cluttered')
        for cls in classes
    ])
    names = [cls.name for cls in classes]
    tokenizer = build_tokenizer(arch)
    chance = 100 / len(classes)
    trained = zero_shot_top1(build_open_clip(arch, weights), tokenizer,
                             images, labels, names)
    torch.manual_seed(0)
    random = zero_shot_top1(build_open_clip(arch), tokenizer, images,
                            labels, names)
    # Margins of whole images (180 of them): 48.3% against 5.6% (77 images)
    # and 2.8% (5 images below); rounding can only flip a near tie.
    assert trained >= 2 * chance
    assert random < 2 * chance


def test_tasks_load_as_coop_folders_with_mixed_base_and_new(tmp_path):
    root = write_task(str(tmp_path), 'compositions', per_class=(2, 1, 1))
    names = json.load(open(os.path.join(root, 'classnames.json')))
    assert len(names) == 36 and names['00_red_circle'] == 'red circle'

    def load(split, subsample='all', shots=2):
        return FewShotImageFolder(
            root, classnames='classnames.json', split=split,
            num_shots=shots, subsample=subsample,
            cache_dir=str(tmp_path / 'cache'))

    assert len(load('train')) == 72 and len(load('test')) == 36
    held_out = {f'{c} {s}' for c, s in held_out_pairs()}
    for subsample in ('base', 'new'):
        classes = load('test', subsample).CLASSES
        assert len(classes) == 18
        assert {c.split()[0] for c in classes} == set(COLOURS)
        assert {c.split()[1] for c in classes} == set(SHAPES)
        assert len(held_out & set(classes)) == 3
    # Rewriting is skipped; the same seed gives the same images.
    image = os.path.join(root, 'test', '05_green_ring', '000.png')
    before = open(image, 'rb').read()
    write_task(str(tmp_path / 'again'), 'compositions', per_class=(2, 1, 1))
    assert open(os.path.join(tmp_path, 'again', 'compositions', 'test',
                             '05_green_ring', '000.png'),
                'rb').read() == before
