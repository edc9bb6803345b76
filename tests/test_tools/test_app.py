"""The page of tools/app.py (rmt_mm/apis/app.py) in a real headless
browser, and bad requests."""
import os
import socket
import time

import numpy as np
import pytest
from headless_chromium import HeadlessChromium, find_chromium
from PIL import Image
from rmt_testing import (TINY_VIT, make_image_folder, run_tool,
                         save_random_weights, write_tiny_config)

from rmt_mm.apis import app
from rmt_mm.models import MaskedCLIP

gr = pytest.importorskip(
    'gradio', reason='Gradio is an optional extra: pip install -e .[demo]')


@pytest.fixture(scope='module')
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp('app')
    data = make_image_folder(str(root / 'data'))
    weights = save_random_weights(TINY_VIT, str(root / 'clip.pt'))
    config = write_tiny_config(str(root / 'tiny.py'), data)
    clip = MaskedCLIP(arch=TINY_VIT, pretrained=weights)
    clip.masks.scores['visual__conv1__weight'].data[::2] = 0
    masks = str(root / 'masks_pets.pth')
    clip.save_masks(masks)
    server = app.build_server(config, [masks],
                              {'model.backbone.pretrained': weights})
    return server, app.example_images(os.path.join(data, 'test'))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def patient_url_ok(url: str, timeout: float = 60) -> bool:
    """Gradio's start-up check that the page answers, with a bounded wait
    long enough for a busy machine (Gradio's own gives up after 3 s)."""
    import httpx
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.head(url, timeout=10).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.5)
    return False


def test_page_classifies_an_uploaded_image_in_a_browser(served, tmp_path,
                                                        monkeypatch):
    browser = find_chromium()
    if browser is None:
        pytest.skip('No Chromium on PATH: install Debian\'s package '
                    '(apt-get install chromium; .ci/run does it in CI).')
    server, examples = served
    image = examples[1]
    expected = server.predict(image, task='masks_pets')[0]['pred_class']
    port = free_port()
    monkeypatch.setattr(gr.networking, 'url_ok', patient_url_ok)
    page = app.build_page(server, examples)
    page.launch(server_name='127.0.0.1', server_port=port,
                prevent_thread_lock=True, quiet=True)
    try:
        with HeadlessChromium(browser) as chrome:
            shown = app_prediction(chrome, f'http://127.0.0.1:{port}/',
                                   image, str(tmp_path / 'app.png'))
    finally:
        page.close()
    # Exact: the page classifies the same pixels with the same server and
    # kernels, one image per batch, in this process.
    assert shown.strip() == expected
    assert os.path.getsize(tmp_path / 'app.png') > 10_000


def app_prediction(chrome: HeadlessChromium, url: str, image: str,
                   screenshot: str) -> str:
    """Uploads ``image``, clicks Classify and returns the top class shown
    (Gradio's Label puts it in ``data-testid="label-output-value"``)."""
    chrome.open(url)
    chrome.wait_for("!!document.querySelector('input[type=file]')",
                    what='the page to load')
    chrome.upload('input[type=file]', image)
    chrome.wait_for("!document.body.innerText.includes('Drop Image Here')",
                    what='the uploaded image to replace the drop zone')
    chrome.evaluate("Array.from(document.querySelectorAll('button')).find("
                    "b => b.innerText.trim() === 'Classify').click()")
    shown = chrome.wait_for(
        "document.querySelector('[data-testid=\"label-output-value\"]')"
        "?.innerText", what='the prediction')
    chrome.screenshot(screenshot)
    return shown


def test_bad_requests_show_a_message_and_the_server_keeps_serving(served):
    server, examples = served
    classify = app.Classifier(server)
    image = np.asarray(Image.open(examples[0]))
    with pytest.raises(gr.Error, match='Unknown task'):
        classify(image, 'no such task', '')
    with pytest.raises(gr.Error, match='comma'):
        classify(image, 'masks_pets', ' , ,')
    with pytest.raises(gr.Error, match='Upload or pick'):
        classify(None, 'masks_pets', '')
    server.preparer.max_pixels = image.shape[0] * image.shape[1] - 1
    with pytest.raises(gr.Error, match='above the limit'):
        classify(image, 'masks_pets', '')
    server.preparer.max_pixels = 64 * 1024**2
    scores, info = classify(image, 'masks_pets', '')
    assert set(scores) == {'bird', 'cat', 'dog'}
    sparsity = server.task('masks_pets').sparsity
    # A ratio of integer counts (half of conv1: ~21%), far above 0.05; the
    # page prints that very float.
    assert sparsity > 0.05 and f'sparsity **{sparsity:.2%}**' in info
    scores, info = classify(image, 'masks_pets', 'zebra, red fox')
    assert set(scores) == {'zebra', 'red fox'}
    assert 'no masks' in info


def test_task_names_stay_unique():
    assert app.named_tasks(['a/masks_final.pth', 'b/masks_final.pth',
                            'c/pets.pth', 'cars=d/masks_final.pth']) == [
        ('a/masks_final', 'a/masks_final.pth'),
        ('b/masks_final', 'b/masks_final.pth'), ('pets', 'c/pets.pth'),
        ('cars', 'd/masks_final.pth')]
    with pytest.raises(ValueError, match='NAME=MASKS'):
        app.named_tasks(['pets=a.pth', 'b/pets.pth'])


def test_the_tool_refuses_a_task_name_twice_in_one_line(tmp_path):
    """tools/app.py hands its arguments to the page's server, which refuses
    two mask files of one name before serving anything."""
    data = make_image_folder(str(tmp_path / 'data'))
    weights = save_random_weights(TINY_VIT, str(tmp_path / 'clip.pt'))
    config = write_tiny_config(str(tmp_path / 'tiny.py'), data)
    result = run_tool('app', config, 'pets=a.pth', 'pets=b.pth',
                      '--cfg-options', f'model.backbone.pretrained={weights}')
    assert result.returncode == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: Two mask files have the same task name in ['pets=a.pth', "
        "'pets=b.pth']; name them: NAME=MASKS.")
