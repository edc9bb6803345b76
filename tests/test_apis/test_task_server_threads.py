"""RMTTaskServer under concurrent callers (issue 22, case 1) and its small
refusals (case 10): every result equals the task's own model bit for bit,
and the weights come back to plain CLIP whatever the interleaving."""
import os
import sys
import threading

import numpy as np
import pytest
import torch
from rmt_testing import TINY_VIT

from rmt_mm.apis import ImageInputError, RMTInferencer, RMTTaskServer
from rmt_mm.models import MaskedCLIP

CLASSES = ('cat', 'dog', 'bird')


@pytest.fixture
def fast_thread_switches():
    """Python switches threads every 0.1 ms instead of 5 ms, so that races
    show within a few requests."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(interval)


def scores(results) -> torch.Tensor:
    return torch.from_numpy(np.stack([r['pred_scores'] for r in results]))


def assert_plain_clip(server: RMTTaskServer, weights: str) -> None:
    plain = dict(MaskedCLIP(arch=TINY_VIT,
                            pretrained=weights).clip.named_parameters())
    for name, param in server.backbone.clip.named_parameters():
        assert torch.equal(param, plain[name]), name


def test_concurrent_callers_get_each_tasks_own_results(
        tiny, fast_thread_switches):
    images = [os.path.join(tiny['data'], 'test', c, f'00{i}.png')
              for c in CLASSES for i in range(2)]
    server = RMTTaskServer.from_config(tiny['config'],
                                       cfg_options=tiny['options'])
    sources = {'task0': tiny['masks'][0], 'task1': tiny['masks'][1],
               'zero-shot': None}
    for name, masks in sources.items():
        server.add_task(name, masks)
    # Each task's own model, built alone: the independent reference.
    expected = {
        name: scores(RMTInferencer(tiny['config'], masks,
                                   cfg_options=tiny['options'])(
                                       images, batch_size=3))
        for name, masks in sources.items()
    }
    tasks = list(sources)
    failures, wrong = [], []

    def caller(first: int) -> None:
        try:
            for request in range(15):
                name = tasks[(first + request) % len(tasks)]
                got = scores(server.predict(images, name, batch_size=3))
                if not torch.equal(got, expected[name]):
                    wrong.append((first, request, name))
        except Exception as error:  # noqa: BLE001 (reported below)
            failures.append(error)

    def churn() -> None:
        # Tasks come and go, and the active task moves, between requests.
        try:
            for _ in range(10):
                server.add_task('extra', tiny['masks'][1], replace=True)
                server.switch('extra')
                server.remove_task('extra')
                server.switch('task0')
        except Exception as error:  # noqa: BLE001 (reported below)
            failures.append(error)

    threads = [threading.Thread(target=caller, args=(i, ))
               for i in range(3)] + [threading.Thread(target=churn)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not failures, failures
    assert not wrong, f'{len(wrong)} of 45 results wrong: {wrong[:5]}'
    assert set(server.tasks) == set(tasks)
    # The zero-shot task drops nothing: the weights are plain CLIP again.
    server.switch('zero-shot')
    assert_plain_clip(server, tiny['weights'])
    server.switch('task1')
    server.remove_task('task1')
    assert server.active_task is None
    assert_plain_clip(server, tiny['weights'])


def test_a_request_for_a_task_replaced_meanwhile_is_refused(tiny):
    server = RMTTaskServer.from_config(tiny['config'],
                                       cfg_options=tiny['options'])
    old = server.add_task('task', tiny['masks'][0])
    server.add_task('task', tiny['masks'][1], replace=True)
    images = torch.zeros(1, 3, 32, 32)
    with pytest.raises(KeyError, match='removed or replaced while this '
                       'request ran'):
        server._logits(images, old)
    # The current task still answers, with its own masks.
    assert server.logits(images, 'task').shape == (1, len(CLASSES))
    assert server.task('task').mask_file == tiny['masks'][1]


def test_bad_task_names_classes_and_empty_images_are_refused(tiny):
    server = RMTTaskServer.from_config(tiny['config'],
                                       cfg_options=tiny['options'])
    for name in (None, 123, '', '  '):
        with pytest.raises(ValueError, match='non-blank string'):
            server.add_task(name)
    with pytest.raises(ValueError, match=r"\['cat'\] appear more than once"):
        server.add_task('pets', classnames=['cat', 'dog', 'cat'])
    assert server.tasks == []
    server.add_task('zero-shot')
    for empty in (np.zeros((0, 0, 3), np.uint8), np.zeros((0, 5), np.uint8)):
        with pytest.raises(ImageInputError, match='nothing to classify'):
            server.predict(empty, 'zero-shot')
    assert server.predict(np.zeros((5, 5, 3), np.uint8),
                          'zero-shot')[0]['pred_class'] in CLASSES
