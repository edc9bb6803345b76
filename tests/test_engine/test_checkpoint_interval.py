"""RMTCheckpointHook(interval='auto'): about 10 checkpoints per run plus
the last epoch's, whatever the run's length."""
import math
from types import SimpleNamespace

import pytest
from mmengine.hooks import CheckpointHook

from rmt_mm.engine.hooks import RMTCheckpointHook


@pytest.mark.parametrize('max_epochs', [1, 9, 10, 30, 199, 1000])
def test_auto_interval_writes_at_most_ten_plus_the_last(monkeypatch,
                                                        max_epochs):
    # mmengine's own set-up (output folders) needs a real runner.
    monkeypatch.setattr(CheckpointHook, 'before_train', lambda *args: None)
    hook = RMTCheckpointHook(interval='auto', max_keep_ckpts=2)
    hook.before_train(SimpleNamespace(max_epochs=max_epochs))
    assert hook.interval == max(1, math.ceil(max_epochs / 10))
    # Epochs that save: every interval-th, and the last (save_last).
    saved = {e for e in range(1, max_epochs + 1) if e % hook.interval == 0}
    saved.add(max_epochs)
    assert len(saved) <= 11
    assert len(saved) >= min(max_epochs, 10)


def test_a_number_is_kept():
    assert RMTCheckpointHook(interval=3).interval == 3
