"""Procedural scenes of the miniature world and their captions.

A scene is one coloured shape on a background, described by five
attributes: shape, colour, size, position and texture. Scenes are drawn in
batches with numpy (2x supersampled, then averaged to ``IMAGE_SIZE``
pixels), so thousands of images take well under a second and depend only
on the random generator.

Two styles exist. ``'plain'`` (pre-training): a flat grey background with
faint noise. ``'cluttered'`` (the downstream tasks' shift): a blotchy,
coloured background and strong pixel noise, which pre-training never shows.
A plain scene may also get a flat background of a given colour (``tint``),
which is how a task gives each class its own shift.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

IMAGE_SIZE = 32
SUPERSAMPLE = 2
SHAPES = ('circle', 'square', 'triangle', 'diamond', 'cross', 'ring')
COLOURS = {
    'red': (220, 40, 40),
    'green': (40, 190, 60),
    'blue': (50, 80, 235),
    'yellow': (235, 220, 50),
    'purple': (160, 60, 205),
    'cyan': (60, 210, 220),
}
SIZES = {'small': (0.16, 0.22), 'large': (0.28, 0.36)}
POSITIONS = {
    'on the left': (0.3, 0.5),
    'on the right': (0.7, 0.5),
    'at the top': (0.5, 0.3),
    'at the bottom': (0.5, 0.7),
    'in the middle': (0.5, 0.5),
}
TEXTURES = ('plain', 'striped')
STYLES = ('plain', 'cluttered')
CAPTION_TEMPLATES = ('a photo of a {}.', 'a {}.', 'a picture of a {}.',
                     'there is a {}.', '{}')


@dataclass
class Scenes:
    """Attributes of a batch of scenes, as indices into the tables above.

    Attributes:
        shape, colour, size, position, texture: One index per scene.
    """
    shape: np.ndarray
    colour: np.ndarray
    size: np.ndarray
    position: np.ndarray
    texture: np.ndarray

    def __len__(self) -> int:
        return len(self.shape)


def held_out_pairs() -> List[Tuple[str, str]]:
    """The (colour, shape) pairs pre-training never shows: one per colour
    and per shape, so every word is still seen in other pairs."""
    colours = list(COLOURS)
    return [(colour, SHAPES[(2 * index + 1) % len(SHAPES)])
            for index, colour in enumerate(colours)]


def sample_scenes(rng: np.random.Generator, num: int,
                  pairs: Optional[Sequence[Tuple[str, str]]] = None
                  ) -> Scenes:
    """Draws ``num`` scenes with uniform attributes.

    Args:
        rng: The random stream.
        num: Number of scenes.
        pairs: Allowed (colour, shape) pairs, drawn uniformly; all pairs
            when ``None``.
    """
    if pairs is None:
        pairs = [(c, s) for c in COLOURS for s in SHAPES]
    colours, shapes = list(COLOURS), list(SHAPES)
    table = np.array([(colours.index(c), shapes.index(s)) for c, s in pairs])
    chosen = table[rng.integers(len(table), size=num)]
    return Scenes(
        shape=chosen[:, 1],
        colour=chosen[:, 0],
        size=rng.integers(len(SIZES), size=num),
        position=rng.integers(len(POSITIONS), size=num),
        texture=rng.integers(len(TEXTURES), size=num))


def _shape_masks(scenes: Scenes, rng: np.random.Generator,
                 grid: int) -> np.ndarray:
    """Coverage in [0, 1] of each scene's shape on a ``grid`` x ``grid``
    canvas (``(N, grid, grid)``)."""
    num = len(scenes)
    size_ranges = np.array(list(SIZES.values()))[scenes.size]
    radius = rng.uniform(size_ranges[:, 0], size_ranges[:, 1])
    centres = np.array(list(POSITIONS.values()))[scenes.position]
    centres = centres + rng.uniform(-0.06, 0.06, size=(num, 2))
    coords = (np.arange(grid) + 0.5) / grid
    x = coords[None, None, :] - centres[:, 0, None, None]
    y = coords[None, :, None] - centres[:, 1, None, None]
    r = radius[:, None, None]
    ax, ay = np.abs(x), np.abs(y)
    shape_masks = {
        'circle': x**2 + y**2 < r**2,
        'square': np.maximum(ax, ay) < 0.8 * r,
        'triangle': (y < 0.7 * r) & (2 * ax < (y + r)),
        'diamond': ax + ay < r,
        'cross': ((ax < 0.3 * r) & (ay < r)) | ((ay < 0.3 * r) & (ax < r)),
        'ring': (x**2 + y**2 < r**2) & (x**2 + y**2 > (0.55 * r)**2),
    }
    masks = np.zeros((num, grid, grid), dtype=bool)
    for index, name in enumerate(SHAPES):
        chosen = scenes.shape == index
        masks[chosen] = shape_masks[name][chosen]
    return masks


def _backgrounds(rng: np.random.Generator, num: int, style: str,
                 tint: Optional[Tuple[float, float, float]] = None
                 ) -> np.ndarray:
    """``(N, S, S, 3)`` float backgrounds of the style."""
    if style == 'plain':
        if tint is not None:
            colour = np.asarray(tint, dtype=np.float64) + rng.uniform(
                -10, 10, size=(num, 1, 1, 3))
            return np.broadcast_to(colour, (num, IMAGE_SIZE, IMAGE_SIZE, 3))
        grey = rng.uniform(15, 95, size=(num, 1, 1, 1))
        return np.broadcast_to(grey, (num, IMAGE_SIZE, IMAGE_SIZE, 3))
    blotches = rng.uniform(0, 120, size=(num, 4, 4, 3))
    cells = IMAGE_SIZE // 4
    return np.repeat(np.repeat(blotches, cells, axis=1), cells, axis=2)


def render(scenes: Scenes, rng: np.random.Generator,
           style: str = 'plain',
           tint: Optional[Tuple[float, float, float]] = None) -> np.ndarray:
    """Draws the scenes.

    Args:
        scenes: What to draw.
        rng: The random stream (sizes, offsets, colour jitter, noise).
        style: ``'plain'`` or ``'cluttered'`` (see the module docstring).
        tint: RGB of a flat background in place of the plain style's grey.

    Returns:
        ``(N, IMAGE_SIZE, IMAGE_SIZE, 3)`` RGB images, uint8.
    """
    if style not in STYLES:
        raise ValueError(f'style must be one of {STYLES}, not {style!r}.')
    if tint is not None and style != 'plain':
        raise ValueError('A background tint replaces the plain style\'s grey;'
                         f' the {style!r} style has its own background.')
    num = len(scenes)
    grid = IMAGE_SIZE * SUPERSAMPLE
    masks = _shape_masks(scenes, rng, grid).astype(np.float32)
    # Stripes: every other band of 2 output pixels is darkened.
    rows = np.arange(grid) // (2 * SUPERSAMPLE) % 2 == 1
    stripes = np.where(rows[None, :, None], 0.35, 1.0)
    striped = scenes.texture == TEXTURES.index('striped')
    masks_shade = np.where(striped[:, None, None], masks * stripes, masks)
    coverage = masks.reshape(num, IMAGE_SIZE, SUPERSAMPLE, IMAGE_SIZE,
                             SUPERSAMPLE).mean(axis=(2, 4))
    shade = masks_shade.reshape(num, IMAGE_SIZE, SUPERSAMPLE, IMAGE_SIZE,
                                SUPERSAMPLE).mean(axis=(2, 4))
    shade = np.where(coverage > 0, shade / np.maximum(coverage, 1e-6), 0)
    colours = np.array(list(COLOURS.values()), dtype=np.float32)
    colour = colours[scenes.colour] + rng.uniform(-20, 20, size=(num, 3))
    background = _backgrounds(rng, num, style, tint)
    foreground = colour[:, None, None, :] * shade[..., None]
    alpha = coverage[..., None]
    image = alpha * foreground + (1 - alpha) * background
    noise = 4.0 if style == 'plain' else 15.0
    image = image + rng.normal(0, noise, size=image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def describe(scenes: Scenes, rng: np.random.Generator,
             keep: float = 0.5) -> Tuple[List[str], np.ndarray]:
    """One caption per scene: colour and shape always; size, texture (only
    when striped) and position each with probability ``keep``; in a random
    template, e.g. ``'a photo of a large striped red ring on the left.'``.

    Returns:
        The captions and an ``(N, 3)`` bool array: whether each caption
        mentions the size, the texture and the position.
    """
    colours, sizes, positions = list(COLOURS), list(SIZES), list(POSITIONS)
    mentioned = rng.random((len(scenes), 3)) < keep
    mentioned[:, 1] &= scenes.texture != 0
    texts = []
    for index in range(len(scenes)):
        says_size, says_texture, says_position = mentioned[index]
        words = [sizes[scenes.size[index]]] if says_size else []
        words += [TEXTURES[scenes.texture[index]]] if says_texture else []
        words += [colours[scenes.colour[index]], SHAPES[scenes.shape[index]]]
        words += [positions[scenes.position[index]]] if says_position else []
        template = CAPTION_TEMPLATES[rng.integers(len(CAPTION_TEMPLATES))]
        texts.append(template.format(' '.join(words)))
    return texts, mentioned


def caption_fits(scenes: Scenes, mentioned: np.ndarray) -> np.ndarray:
    """``fits[i, j]``: caption ``j`` (of scene ``j``, mentioning what
    ``mentioned[j]`` says) is a true description of scene ``i``.

    A caption that leaves out "striped" fits plain and striped scenes alike.
    """
    def same(values: np.ndarray) -> np.ndarray:
        return values[:, None] == values[None, :]

    fits = same(scenes.colour) & same(scenes.shape)
    for column, values in enumerate(
            (scenes.size, scenes.texture, scenes.position)):
        fits &= same(values) | ~mentioned[None, :, column]
    return fits
