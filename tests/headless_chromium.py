"""Drives Debian's headless Chromium through the DevTools protocol over
``--remote-debugging-pipe`` (no Python dependency, no browser download)."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from typing import Optional

BROWSERS = ('chromium', 'chromium-browser', 'google-chrome')


def find_chromium() -> Optional[str]:
    """The first Chromium-like browser on PATH, or ``None``."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class HeadlessChromium:
    """One headless browser with one page; every wait is bounded.

    Args:
        binary: The browser executable.
        width: Viewport width in CSS pixels.
        height: Viewport height in CSS pixels.
    """

    def __init__(self, binary: str, width: int = 1200,
                 height: int = 820) -> None:
        self._profile = tempfile.mkdtemp(prefix='rmt_chromium_')
        to_browser, self._commands = os.pipe()
        self._replies, from_browser = os.pipe()
        # The protocol pipe is fd 3 (commands in) and 4 (replies out);
        # bash (not dash) moves descriptors above 9.
        self._process = subprocess.Popen(
            ['bash', '-c', f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser}',
             binary, '--headless', '--no-sandbox', '--disable-gpu',
             '--disable-dev-shm-usage', '--no-first-run',
             '--remote-debugging-pipe', f'--user-data-dir={self._profile}',
             'about:blank'],
            pass_fds=(to_browser, from_browser),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b''
        self._next_id = 0
        self._session = None
        target = self.send('Target.createTarget', url='about:blank')
        self._session = self.send('Target.attachToTarget',
                                  targetId=target['targetId'],
                                  flatten=True)['sessionId']
        self.send('Emulation.setDeviceMetricsOverride', width=width,
                  height=height, deviceScaleFactor=1, mobile=False)

    def send(self, method: str, timeout: float = 30, **params) -> dict:
        """Sends one command and returns its result (events are dropped)."""
        self._next_id += 1
        message = dict(id=self._next_id, method=method, params=params)
        if self._session and not method.startswith('Target.'):
            message['sessionId'] = self._session
        os.write(self._commands, json.dumps(message).encode() + b'\0')
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get('id') == self._next_id:
                if 'error' in reply:
                    raise RuntimeError(f'{method}: {reply["error"]}')
                return reply.get('result', {})

    def _read(self, deadline: float) -> dict:
        import select
        while b'\0' not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [],
                                              left)[0]:
                raise TimeoutError('Chromium did not answer in time.')
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise RuntimeError('Chromium closed the protocol pipe.')
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b'\0', 1)
        return json.loads(message)

    def open(self, url: str) -> None:
        self.send('Page.navigate', url=url)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        result = self.send('Runtime.evaluate', expression=expression,
                           returnByValue=True, awaitPromise=True)
        return result.get('result', {}).get('value')

    def wait_for(self, expression: str, timeout: float = 60,
                 what: str = None):
        """Polls a JavaScript expression until it is truthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.25)
        raise TimeoutError(f'Waited {timeout} s for {what or expression}.')

    def upload(self, selector: str, path: str) -> None:
        """Puts a file into the file input matching ``selector``."""
        root = self.send('DOM.getDocument')['root']['nodeId']
        node = self.send('DOM.querySelector', nodeId=root,
                         selector=selector)['nodeId']
        if not node:
            raise RuntimeError(f'No element matches {selector!r}.')
        self.send('DOM.setFileInputFiles', files=[os.path.abspath(path)],
                  nodeId=node)

    def screenshot(self, path: str) -> None:
        data = self.send('Page.captureScreenshot', format='png')['data']
        with open(path, 'wb') as f:
            f.write(base64.b64decode(data))

    def close(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        os.close(self._commands)
        os.close(self._replies)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> 'HeadlessChromium':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
