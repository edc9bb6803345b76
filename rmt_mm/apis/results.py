"""Per-image prediction records, as mmpretrain's inferencers return them."""
from typing import List, Sequence, Tuple, Union

from torch import Tensor


def to_results(names: Sequence[Union[str, int]], scores: Tensor,
               classnames: Sequence[str]) -> List[dict]:
    """One dict per image: ``input`` (path or position), ``pred_label``,
    ``pred_class``, ``pred_score`` and ``pred_scores`` (numpy, softmax over
    every class)."""
    results = []
    for name, row in zip(names, scores.float().cpu()):
        label = int(row.argmax())
        results.append(
            dict(input=name, pred_label=label, pred_class=classnames[label],
                 pred_score=float(row[label]), pred_scores=row.numpy()))
    return results


def top_classes(result: dict, classnames: Sequence[str],
                k: int = 5) -> List[Tuple[str, float]]:
    """The ``k`` best ``(class name, score)`` pairs of one result."""
    scores = result['pred_scores']
    order = scores.argsort()[::-1][:k]
    return [(classnames[i], float(scores[i])) for i in order]
