"""Pictures of a run: where the masks cut (a per-layer sparsity grid), what
the selector chose (its scored groups as bars), and the run against its
updates (sparsity, entries switched off / on, validation accuracy)."""
import glob
import json
import os.path as osp
import re
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
import open_clip
from torch import Tensor

from ..fileio import FileRefusedError
from ..models.open_clip_loader import ArchSpec

#: ``visual.transformer.resblocks.<i>.<kind>`` (ViT) or
#: ``visual.layer<j>.<i>.<kind>`` (ResNet) weights and groups.
BLOCK_PATTERN = re.compile(
    r'^visual\.(?:transformer\.resblocks\.(?P<vit>\d+)|'
    r'(?P<resnet>layer\d+\.\d+))(?:\.(?P<kind>.+?))?(?:\.weight|_weight)?$')
OUTSIDE_BLOCKS = 'outside blocks'
#: Colour of the cells of weights without a mask.
UNMASKED_GREY = '#dddddd'


@dataclass
class SparsityGrid:
    """Sparsity of every masked tensor laid out as blocks x kinds.

    Attributes:
        rows: Row labels: :data:`OUTSIDE_BLOCKS` (conv1, ...) first when
            present, then the blocks in model order (every block of the
            model when its architecture is known, masked or not).
        columns: Tensor kinds (``conv1``, ``attn.in_proj``, ...).
        sparsity: ``len(rows) x len(columns)`` share of entries masked out
            (0..1); NaN where no tensor is masked.
        dropped: Entries masked out over all tensors.
        total: Entries of all masked tensors.
    """
    rows: List[str]
    columns: List[str]
    sparsity: np.ndarray
    dropped: int
    total: int

    @property
    def overall(self) -> float:
        return self.dropped / self.total if self.total else 0.0


def locate(name: str):
    """``(row, column)`` of a masked weight name or selector group name."""
    match = BLOCK_PATTERN.match(name)
    if match is None:
        short = re.sub(r'(?:\.weight|_weight)$', '',
                       re.sub(r'^visual\.', '', name))
        return OUTSIDE_BLOCKS, short
    row = (f'block {match["vit"]}'
           if match['vit'] is not None else match['resnet'])
    return row, match['kind'] or 'block'


def model_blocks(arch: Optional[ArchSpec]) -> List[str]:
    """The block rows of an open_clip image encoder, in model order: ViT
    ``block <i>``, ResNet ``layer<j>.<i>``; none for an unknown
    architecture.

    Args:
        arch: An open_clip model name or config dict (a mask file's
            ``meta['arch']``).
    """
    config = arch if isinstance(arch, dict) else (
        open_clip.get_model_config(arch) if isinstance(arch, str) else None)
    layers = (config or {}).get('vision_cfg', {}).get('layers')
    if isinstance(layers, int):
        return [f'block {i}' for i in range(layers)]
    if isinstance(layers, (list, tuple)):
        return [f'layer{stage}.{i}'
                for stage, count in enumerate(layers, start=1)
                for i in range(count)]
    return []


def sparsity_grid(masks: Dict[str, Tensor],
                  arch: Optional[ArchSpec] = None) -> SparsityGrid:
    """Lays out the share of masked-out entries of each tensor.

    Args:
        masks: ``{weight name: boolean keep-mask}`` as returned by
            :func:`rmt_mm.fileio.load_mask_file`.
        arch: The model's architecture (``meta['arch']``): its blocks
            without a masked weight become rows without values.
    """
    cells, rows, columns = {}, model_blocks(arch), []
    dropped = total = 0
    for name, mask in masks.items():
        row, column = locate(name)
        rows += [row] if row not in rows else []
        columns += [column] if column not in columns else []
        kept = int(mask.sum())
        cells[(row, column)] = 1 - kept / mask.numel()
        dropped += mask.numel() - kept
        total += mask.numel()
    if OUTSIDE_BLOCKS in rows:
        rows.remove(OUTSIDE_BLOCKS)
        rows.insert(0, OUTSIDE_BLOCKS)
    grid = np.full((len(rows), len(columns)), np.nan)
    for (row, column), value in cells.items():
        grid[rows.index(row), columns.index(column)] = value
    return SparsityGrid(rows, columns, grid, dropped, total)


@dataclass
class Bar:
    """One candidate group of the selector."""
    label: str
    score: float
    params: int
    selected: bool


def selection_bars(record: dict) -> List[Bar]:
    """The scored groups of a ``mask_selection.json``, in model order.

    Raises:
        FileRefusedError: For a fixed selection, which scores nothing.
    """
    if not record.get('groups'):
        raise FileRefusedError(
            f"The selection (mode {record.get('mode')!r}) has no scores to "
            "plot: only a run with ParameterSelector(mode='importance') "
            'scores the groups. Plot its masks with `visualize.py masks` '
            'instead.')
    bars = []
    for group in record['groups']:
        row, column = locate(group['name'])
        label = column if row == OUTSIDE_BLOCKS else f'{row} {column}'
        bars.append(Bar(label, float(group['score']), int(group['params']),
                        bool(group['selected'])))
    return bars


@dataclass
class TrainingCurves:
    """A run's per-update mask record and its validations.

    Attributes:
        updates, sparsity, flips_off, flips_on: One entry per optimiser
            update (sparsity in percent).
        val_updates, val_top1: Update after which each validation ran (0:
            before training) and its top-1 (%).
        kept_update: Update of the model the run kept, if recorded.
    """
    updates: List[int]
    sparsity: List[float]
    flips_off: List[int]
    flips_on: List[int]
    val_updates: List[int]
    val_top1: List[float]
    kept_update: Optional[int] = None


def training_curves(work_dir: str) -> TrainingCurves:
    """Reads ``scalars.json`` of every session of a run (a resumed run has
    several) and ``model_selection.json`` when present.

    Raises:
        FileRefusedError: If the work dir holds no per-update record.
    """
    records = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as file:
            records += [json.loads(line) for line in file if line.strip()]
    per_update = {r['update']: r for r in records if 'update' in r}
    if not per_update:
        raise FileRefusedError(
            f'{work_dir} holds no per-update mask record (vis_data/'
            'scalars.json with flips_off / flips_on): train with '
            'RMTMaskFlipHook in custom_hooks (every rmt_mm config has it).')
    updates = sorted(per_update)
    last_update_of = {0: 0}
    for update in updates:
        last_update_of[per_update[update]['epoch']] = update
    validations = {r['step']: r['accuracy/top1'] for r in records
                   if 'accuracy/top1' in r and 'update' not in r}
    val_epochs = [e for e in sorted(validations) if e in last_update_of]
    kept = None
    selection = osp.join(work_dir, 'model_selection.json')
    if osp.isfile(selection):
        with open(selection) as file:
            kept = last_update_of.get(json.load(file)['kept_epoch'])
    return TrainingCurves(
        updates=updates,
        sparsity=[100 * per_update[u]['sparsity'] for u in updates],
        flips_off=[per_update[u]['flips_off'] for u in updates],
        flips_on=[per_update[u]['flips_on'] for u in updates],
        val_updates=[last_update_of[e] for e in val_epochs],
        val_top1=[validations[e] for e in val_epochs],
        kept_update=kept)


def draw_training(curves: TrainingCurves, out: str, title: str) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(7, 7), sharex=True)
    axes[0].plot(curves.updates, curves.sparsity, color='tab:purple')
    axes[0].set_ylabel('sparsity (%)')
    axes[1].plot(curves.updates, curves.flips_off, color='tab:red',
                 label='switched off')
    axes[1].plot(curves.updates, curves.flips_on, color='tab:green',
                 label='switched on')
    axes[1].set_ylabel('entries per update')
    axes[1].set_yscale('symlog', linthresh=1)
    axes[1].legend(fontsize=8)
    axes[2].plot(curves.val_updates, curves.val_top1, marker='.',
                 color='tab:blue', label='validation')
    if curves.val_updates and curves.val_updates[0] == 0:
        axes[2].axhline(curves.val_top1[0], color='gray', linestyle='--',
                        label='zero-shot (update 0)')
    if curves.kept_update is not None:
        axes[2].axvline(curves.kept_update, color='black', linestyle=':',
                        label='kept model')
    axes[2].set_ylabel('val top-1 (%)')
    axes[2].set_xlabel('optimiser update')
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def mask_file_label(path: str) -> str:
    """A mask file as its run folder and name (``run/masks_final.pth``)."""
    folder = osp.basename(osp.dirname(osp.abspath(path)))
    return osp.join(folder, osp.basename(path))


def draw_sparsity(grid: SparsityGrid, out: str, mask_file: str) -> None:
    """A heatmap of the share of entries masked out per block and tensor
    kind; weights without a mask are grey cells.

    Args:
        grid: The layout of :func:`sparsity_grid`.
        out: The PNG file.
        mask_file: The mask file drawn, named in the title.
    """
    plt = _pyplot()
    from matplotlib.patches import Patch
    height = 1.8 + 0.35 * len(grid.rows)
    fig, ax = plt.subplots(figsize=(2.4 + 1.6 * len(grid.columns), height))
    cmap = plt.get_cmap('viridis').with_extremes(bad=UNMASKED_GREY)
    percent = np.ma.masked_invalid(grid.sparsity * 100)
    image = ax.imshow(percent, cmap=cmap, aspect='auto', vmin=0,
                      vmax=max(float(percent.max() or 0), 1e-6))
    for (i, j), value in np.ndenumerate(grid.sparsity):
        if not np.isnan(value):
            ax.text(j, i, f'{value:.1%}', ha='center', va='center',
                    fontsize=8, color='white' if value * 100 <
                    0.6 * image.norm.vmax else 'black')
    ax.set_xticks(range(len(grid.columns)), grid.columns)
    ax.set_yticks(range(len(grid.rows)), grid.rows)
    ax.set_title(f'Entries masked out per layer: '
                 f'{mask_file_label(mask_file)}\n{grid.overall:.2%} of '
                 f'{grid.total:,} masked entries are masked out', fontsize=9)
    fig.colorbar(image, ax=ax, label='masked out (%)')
    fig.legend(handles=[Patch(facecolor=UNMASKED_GREY, edgecolor='gray',
                              label='no mask (pretrained weights as they '
                              'are)')],
               loc='lower center', fontsize=8, frameon=False)
    # Room below the axes for that one-line legend (about 0.3 inch).
    fig.tight_layout(rect=(0, 0.3 / height, 1, 1))
    fig.savefig(out, dpi=120)
    plt.close(fig)


def draw_selection(bars: List[Bar], out: str, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 1.0 + 0.28 * len(bars)))
    positions = np.arange(len(bars))
    colors = ['tab:red' if b.selected else 'tab:gray' for b in bars]
    ax.barh(positions, [b.score for b in bars], color=colors)
    ax.set_yticks(positions, [b.label for b in bars], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel('importance score')
    chosen = sum(b.params for b in bars if b.selected)
    ax.set_title(f'{title}\nselected (red): '
                 f'{sum(b.selected for b in bars)} of {len(bars)} groups, '
                 f'{chosen:,} entries', fontsize=9)
    ax.grid(axis='x', alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
