"""The logic of ``tools/infer.py``: its paths told apart (config, mask
file, inputs), the inputs classified with :class:`RMTInferencer`, a table
printed and the results optionally written to JSON."""
import argparse
import json
import os.path as osp
import sys
from typing import List, Optional, Sequence, Tuple

from ..apis import RMTInferencer, top_classes

#: Endings of the config files mmengine reads; images never have them.
CONFIG_EXTENSIONS = ('.py', '.json', '.yaml', '.yml')
#: Endings of the files ``torch.save`` writes; images never have them.
TORCH_EXTENSIONS = ('.pth', '.pt', '.ckpt', '.bin', '.pkl', '.tar')
#: How ``torch.save`` files start: a zip archive or a pickle.
TORCH_STARTS = (b'PK\x03\x04', b'\x80')


def looks_like_config(path: str) -> bool:
    """Whether ``path`` is named like a config file (and is no folder)."""
    return (osp.splitext(path)[1].lower() in CONFIG_EXTENSIONS
            and not osp.isdir(path))


def looks_like_torch_file(path: str) -> bool:
    """Whether ``path`` is named like a ``torch.save`` file, or is a regular
    file made like one: then it is meant as the mask file, and loading it
    decides whether it is one."""
    if osp.splitext(path)[1].lower() in TORCH_EXTENSIONS:
        return True
    if not osp.isfile(path):
        return False
    with open(path, 'rb') as f:
        return f.read(4).startswith(TORCH_STARTS)


def split_paths(
        paths: Sequence[str], masks: Optional[str]
) -> Tuple[Optional[str], Optional[str], List[str]]:
    """Splits ``[CONFIG] [MASKS] INPUTS...`` into the config, the mask file
    (``masks``, from ``--masks``, when given) and the inputs.

    Raises:
        ValueError: No config nor mask file, the config after the mask
            file, or no inputs; the message says what to give.
    """
    rest = list(paths)
    config = rest.pop(0) if looks_like_config(rest[0]) else None
    if masks is None and rest and looks_like_torch_file(rest[0]):
        masks = rest.pop(0)
    if config is None and masks is None:
        raise ValueError(f'{paths[0]!r} is neither a config (.py) nor a '
                         'mask file (.pth): give a mask file, or a config '
                         'for zero-shot CLIP, before the images.')
    if config is None and rest and looks_like_config(rest[0]):
        raise ValueError(f'give the config {rest[0]!r} before the mask '
                         'file.')
    if not rest:
        raise ValueError('give at least one image or folder after the '
                         'config and mask file.')
    return config, masks, rest


def format_table(results: List[dict], classnames: Sequence[str],
                 topk: int) -> str:
    """A plain-text table: input, top-1 class and score, then the top-k
    (as many as there are classes, and so named)."""
    rows = [('input', 'class', 'score', f'top-{min(topk, len(classnames))}')]
    for result in results:
        best = top_classes(result, classnames, topk)
        rows.append((str(result['input']), result['pred_class'],
                     f'{result["pred_score"]:.3f}',
                     ', '.join(f'{name} {score:.2f}'
                               for name, score in best)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return '\n'.join(
        '  '.join(cell.ljust(width) for cell, width in zip(row, widths)) +
        '  ' + row[3] for row in rows)


def write_results(path: str, results: List[dict],
                  inferencer: RMTInferencer, topk: int) -> None:
    """Writes the classes, each result (with its top-k) and the skipped
    inputs to the JSON file ``path``."""
    records = [
        dict(r, pred_scores=r['pred_scores'].tolist(),
             topk=top_classes(r, inferencer.classnames, topk))
        for r in results
    ]
    with open(path, 'w') as f:
        json.dump(dict(classes=list(inferencer.classnames),
                       results=records,
                       skipped=[dict(input=n, reason=r) for n, r in
                                inferencer.skipped]), f, indent=1)


def run_inference(args: argparse.Namespace) -> int:
    """Classifies ``args.inputs`` as ``tools/infer.py``'s command line
    ``args`` asks and prints the table (skipped inputs to stderr).

    Returns:
        The exit code: 1 if every input was skipped, else 0.
    """
    inferencer = RMTInferencer(
        args.config, args.masks, classnames=args.classes,
        templates=args.templates, cfg_options=args.cfg_options,
        device=args.device)
    results = inferencer(args.inputs, batch_size=args.batch_size,
                         progress=any(osp.isdir(p) for p in args.inputs))
    print(format_table(results, inferencer.classnames, args.topk))
    for name, reason in inferencer.skipped:
        print(f'skipped {name}: {reason}', file=sys.stderr)
    print(f'{len(results)} classified, {len(inferencer.skipped)} skipped',
          file=sys.stderr)
    if args.out:
        write_results(args.out, results, inferencer, args.topk)
    return 0 if results or not inferencer.skipped else 1
