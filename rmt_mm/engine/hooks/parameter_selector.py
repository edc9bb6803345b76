"""ParameterSelector: decides which image-encoder weights carry masks."""
import json
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.dist import all_reduce, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmpretrain.registry import HOOKS

from ...fileio.side_files import read_json, write_json
from ...registry import register
from .class_prompt_hook import set_classes_from_dataset

SELECTION_FILE = 'mask_selection.json'

#: Candidate groups: the attention and the MLP of every transformer block,
#: every ResNet bottleneck, the attention pooling and the patch/stem conv1.
GROUP_PATTERNS = (
    r'^(visual\.transformer\.resblocks\.\d+\.(?:attn|mlp))\.',
    r'^(visual\.layer\d+\.\d+)\.',
    r'^(visual\.attnpool)\.',
    r'^(visual\.conv1)\.',
)


def candidate_groups(names: Sequence[str]) -> Dict[str, List[str]]:
    """Groups maskable weight names into the selector's candidate groups."""
    groups: Dict[str, List[str]] = {}
    for name in names:
        for pattern in GROUP_PATTERNS:
            match = re.match(pattern, name)
            if match:
                groups.setdefault(match.group(1), []).append(name)
                break
    return groups


def select_top(scores: Dict[str, float], sizes: Dict[str, int],
               top_k: Optional[int], param_budget: Optional[int]
               ) -> List[str]:
    """Groups in descending score: the first ``top_k``, or as many as fit
    in ``param_budget`` masked entries (greedy, skipping groups that do not
    fit)."""
    ranked = sorted(scores, key=lambda g: -scores[g])
    if top_k is not None:
        return ranked[:top_k]
    chosen, used = [], 0
    for group in ranked:
        if used + sizes[group] <= param_budget:
            chosen.append(group)
            used += sizes[group]
    return chosen


@register(HOOKS, 'RMTParameterSelector', old_name='ParameterSelector')
class ParameterSelector(Hook):
    """Chooses the masked weights before training starts.

    Modes:

    - ``'fixed'``: the glob ``patterns``, or when they are ``None`` the
      model's own ``mask_targets`` (by default the paper's set: conv1 plus
      every block's attention projections).
    - ``'importance'``: scores every candidate group (attention and MLP of
      each block, conv1, ...) by first-order saliency on ``num_batches``
      training batches and keeps the best ``top_k`` groups, or the best that
      fit in ``param_budget`` masked entries. The saliency of a group is the
      mean over its entries of ``|dL/dW * W|`` for the cross-entropy ``L`` of
      zero-shot CLIP, averaged over batches and processes; it estimates how
      much the loss changes when an entry is masked out, and equals
      ``|dL/dM|`` of a fresh mask.

    The choice is logged as a table, written to ``work_dir/
    mask_selection.json``, identical on every process (scores are averaged
    before choosing) and reused on ``--resume``; mask files record the
    selected names and, when they differ from the model's ``mask_targets``,
    how they were chosen, so ``tools/test.py`` and ``tools/export.py``
    rebuild the same masks from the run's config. The
    optimizer is re-pointed at the selected scores only.

    Args:
        mode: ``'fixed'`` or ``'importance'``.
        patterns: Patterns for ``'fixed'``; ``None`` keeps the model's.
        num_batches: Batches scored in ``'importance'`` mode.
        top_k: Number of groups to keep.
        param_budget: Maximum masked entries (used when ``top_k`` is None).
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 mode: str = 'fixed',
                 patterns: Union[str, Sequence[str], None] = None,
                 num_batches: int = 4,
                 top_k: Optional[int] = None,
                 param_budget: Optional[int] = None) -> None:
        if mode not in ('fixed', 'importance'):
            raise ValueError(
                f"ParameterSelector mode must be 'fixed' or 'importance', "
                f'got {mode!r}.')
        if mode == 'importance' and (top_k is None) == (param_budget is None):
            raise ValueError(
                "ParameterSelector(mode='importance') needs exactly one of "
                '`top_k` (number of groups) or `param_budget` (masked '
                'entries).')
        self.mode = mode
        self.patterns = patterns
        self.num_batches = num_batches
        self.top_k = top_k
        self.param_budget = param_budget
        self._selected = False

    def before_run(self, runner) -> None:
        if not isinstance(runner.optim_wrapper, OptimWrapper):
            return  # not training (runner.test/val): masks come from files
        if self._selected:
            return  # runner.val()/test() after runner.train(): keep the masks
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        backbone = model.backbone
        if not backbone.has_masks:
            return  # a method without masks (CoOp, Tip-Adapter)
        path = osp.join(runner.work_dir, SELECTION_FILE)
        if getattr(runner, '_resume', False) and osp.isfile(path):
            record = read_json(
                path, 'Delete it to let the resumed run select the masked '
                'weights again, or copy it back from a backup.')
            print_log(f'ParameterSelector: reusing the selection in {path}',
                      logger='current')
        elif self.mode == 'fixed':
            names = (backbone.mask_names if self.patterns is None else
                     backbone.resolve_targets(self.patterns))
            record = dict(mode='fixed', patterns=self.patterns,
                          selected_names=names, groups=[])
        else:
            record = self._select_by_importance(runner, model)
        backbone.set_mask_targets(record['selected_names'])
        if record['mode'] == 'importance' or record.get('patterns'):
            # The selection differs from the config's mask_targets: mask
            # files must say so for tools/test.py and tools/export.py.
            backbone.selection = json.loads(json.dumps(
                {k: v for k, v in record.items()
                 if k not in ('groups', 'selected_names')}))
        _point_optimizer_at(runner.optim_wrapper, model)
        self._selected = True
        self._report(record, backbone, path)

    @torch.no_grad()
    def _saliency(self, runner, model, groups) -> Dict[str, float]:
        backbone = model.backbone
        params = dict(backbone.clip.named_parameters())
        names = [n for members in groups.values() for n in members]
        totals = {n: torch.zeros((), device=params[n].device) for n in names}
        set_classes_from_dataset(model, runner.train_dataloader.dataset)
        num_batches = 0
        for batch in runner.train_dataloader:
            if num_batches == self.num_batches:
                break
            data = model.data_preprocessor(batch, False)
            labels = torch.cat(
                [s.gt_label for s in data['data_samples']]).to(
                    data['inputs'].device)
            for n in names:
                params[n].requires_grad_(True)
            try:
                with torch.enable_grad():
                    logits = model.logits(data['inputs'], masked=False)
                    loss = torch.nn.functional.cross_entropy(logits, labels)
                    grads = torch.autograd.grad(loss,
                                                [params[n] for n in names])
            finally:
                for n in names:
                    params[n].requires_grad_(False)
            for n, g in zip(names, grads):
                totals[n] += (g * params[n]).abs().sum()
            num_batches += 1
        if num_batches == 0:
            raise RuntimeError('ParameterSelector found no training batch.')
        scores = torch.stack([
            sum(totals[n] for n in members) /
            sum(params[n].numel() for n in members)
            for members in groups.values()
        ]) / num_batches
        all_reduce(scores, op='mean')
        return dict(zip(groups, scores.tolist()))

    def _select_by_importance(self, runner, model) -> dict:
        backbone = model.backbone
        groups = candidate_groups(backbone.candidate_names())
        params = dict(backbone.clip.named_parameters())
        sizes = {g: sum(params[n].numel() for n in members)
                 for g, members in groups.items()}
        scores = self._saliency(runner, model, groups)
        chosen = select_top(scores, sizes, self.top_k, self.param_budget)
        if not chosen:
            raise ValueError(
                f'param_budget={self.param_budget} is smaller than every '
                f'candidate group (smallest: {min(sizes.values())} entries).')
        return dict(
            mode='importance',
            patterns=None,
            measure='mean |dL/dW * W| per entry (zero-shot CE)',
            num_batches=self.num_batches,
            top_k=self.top_k,
            param_budget=self.param_budget,
            groups=[dict(name=g, params=sizes[g], score=scores[g],
                         selected=g in chosen) for g in groups],
            selected_names=[n for g in groups if g in chosen
                            for n in groups[g]])

    @staticmethod
    def _report(record: dict, backbone, path: str) -> None:
        lines = [f'ParameterSelector ({record["mode"]}):']
        if record['groups']:
            lines.append(f'{"group":<40} {"entries":>12} {"score":>12}  keep')
            for g in record['groups']:
                lines.append(f'{g["name"]:<40} {g["params"]:>12,} '
                             f'{g["score"]:>12.4e}  '
                             f'{"yes" if g["selected"] else "-"}')
        total = sum(s.numel() for _, s in backbone.masks.items())
        lines.append(f'{len(backbone.mask_names)} masked tensors, '
                     f'{total:,} masked entries')
        print_log('\n'.join(lines), logger='current')
        if is_main_process():
            write_json(path, record, indent=2)


def _point_optimizer_at(optim_wrapper, model) -> None:
    """Makes the optimizer hold the model's (new) mask scores, in its first
    parameter group, and, in their groups, its other trainable parameters
    (a CoOp context, Tip-Adapter-F keys); frozen weights are dropped."""
    optimizer = optim_wrapper.optimizer
    scores = [s for _, s in model.backbone.masks.items()]
    score_ids = {id(s) for s in scores}
    others = {id(p) for p in model.parameters()
              if p.requires_grad and id(p) not in score_ids}
    for group in optimizer.param_groups:
        group['params'] = [p for p in group['params'] if id(p) in others]
    optimizer.param_groups[0]['params'][:0] = scores
    optimizer.state.clear()
