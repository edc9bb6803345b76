"""Every shell command of README.md and configs/rmt/README.md runs, on the
demo model, in one throw-away workspace.

The workspace looks like the repository after ``make demo``: ``tools/`` is
the repository's, ``demo_output/`` holds the digits and the random tiny CLIP,
and every config a README names (``configs/rmt/*.py``, ``configs/demo/...``)
is the demo config shortened to one epoch on 2 shots per class. Commands run
verbatim, in README order (later ones use what earlier ones wrote), except
for the placeholders of :data:`SUBSTITUTIONS`. A command that cannot run
offline or on a CPU is listed in :data:`NOT_RUN` with the reason; a new
README command is picked up automatically and must pass or be listed.
"""
import os
import os.path as osp
import re
import shlex
import subprocess
import sys

import pytest
from rmt_testing import REPO, ToolResult, run_tool

READMES = ('README.md', 'configs/rmt/README.md')
DEMO = 'configs/demo/rmt_tiny_digits.py'

#: (pattern, replacement) applied in order to each command before it runs.
SUBSTITUTIONS = (
    # Placeholders for a config, a run and its files: the demo and its runs.
    (r'\bCONFIG\b', DEMO),
    (r'work_dirs/(RUN|<run>)/mask_selection\.json',
     'work_dirs/demo_importance/mask_selection.json'),
    (r'work_dirs/(RUN|<run>)/', 'work_dirs/rmt_tiny_digits/'),
    (r'\bMASKS\b', 'work_dirs/rmt_tiny_digits/masks_final.pth'),
    # The demo's mask file and test images: the demo config's run above, on
    # the workspace's digits.
    (r'demo_output/work/\w+/masks_final\.pth',
     'work_dirs/rmt_tiny_digits/masks_final.pth'),
    (r'demo_output/data/\w+/test\b', 'demo_output/data/test'),
    # A dataset folder ($DATA): the workspace's, which holds demo_output/data.
    (r'--data-root /datasets\b', '--data-root demo_output'),
    # An image of one's own: a folder of the demo's digits.
    (r'\bphoto\.jpg\b', 'demo_output/data/test/seven'),
    # A local weight file: the demo's random CLIP.
    (r'/models/ViT-B-16\.pt', 'demo_output/tiny_clip_random.pt'),
    # Optional arguments shown in brackets: the command without them.
    (r'\s\[[^\]]*\]', ''),
    # Sweep grids: one cell (each run trains and tests).
    (r'--shots( \d+)+', '--shots 1'),
    (r'--seeds( \d+)+', '--seeds 1'),
)

#: (pattern, reason) of commands that cannot run here.
NOT_RUN = (
    (r'^make test\b', 'is the test suite itself'),
    (r'^make demo\b', 'the 30-epoch demo on the miniature CLIP; its steps '
     '(tools/train.py, test.py, visualize.py on the demo config) are the '
     'commands run here'),
    (r'dist_train\.sh|dist_test\.sh',
     'needs several processes; tests/test_engine/test_distributed.py runs '
     'tools/dist_train.sh on 2 CPU processes'),
    (r'slurm_train\.sh', 'needs a slurm cluster'),
    (r'--amp\b', 'mixed precision needs a GPU'),
    (r'^DATASETS=', 'a shell variable for the dataset sweeps below'),
    (r'--datasets\b', "CoOp's datasets cannot be downloaded offline"),
    (r'collect_results\.py work_dirs/sweep\b',
     'collects the dataset sweeps, which cannot run offline; the demo '
     "sweep's collection runs"),
)


def shell_commands(path: str):
    """``(line number, command)`` of every ```shell/```bash block of a
    Markdown file, continuation lines joined, comments dropped."""
    commands, block, start = [], None, 0
    with open(osp.join(REPO, path)) as f:
        lines = f.read().splitlines()
    pending = ''
    for number, line in enumerate(lines, 1):
        if block is None:
            if re.match(r'^```(shell|bash|sh)\s*$', line):
                block = []
            continue
        if line.startswith('```'):
            block = None
            continue
        text = line.split(' #')[0].rstrip() if not line.lstrip().startswith(
            '#') else ''
        if not pending:
            start = number
        if text.endswith('\\'):
            pending += text[:-1].strip() + ' '
            continue
        command = (pending + text.strip()).strip()
        pending = ''
        if command:
            commands.append((f'{path}:{start}', command))
    return commands


def substitute(command: str) -> str:
    for pattern, replacement in SUBSTITUTIONS:
        command = re.sub(pattern, replacement, command)
    return command


def not_run_reason(command: str):
    for pattern, reason in NOT_RUN:
        if re.search(pattern, command):
            return reason
    return None


FAST_DEMO = """_base_ = [{demo!r}]
# The demo model on its data, shortened for the README flows: one epoch on
# 2 shots per class, no validation while training, 100 test images.
train_cfg = dict(max_epochs=1, val_interval=2)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, T_max=1)]
train_dataloader = dict(dataset=dict(num_shots=2))
val_dataloader = dict(dataset=dict(indices=100))
test_dataloader = val_dataloader
"""


@pytest.fixture(scope='module')
def workspace(tmp_path_factory, digits_world):
    root = tmp_path_factory.mktemp('readme')
    os.symlink(osp.join(REPO, 'tools'), root / 'tools')
    (root / 'demo_output').mkdir()
    os.symlink(digits_world.data, root / 'demo_output' / 'data')
    os.symlink(digits_world.weights,
               root / 'demo_output' / 'tiny_clip_random.pt')
    text = FAST_DEMO.format(demo=osp.join(REPO, DEMO))
    names = [DEMO] + [osp.join('configs/rmt', n) for n in os.listdir(
        osp.join(REPO, 'configs/rmt')) if n.endswith('.py')]
    for name in names:
        os.makedirs(root / osp.dirname(name), exist_ok=True)
        (root / name).write_text(text)
    return root


def test_every_readme_command_is_run_or_explained():
    commands = [c for path in READMES for _, c in shell_commands(path)]
    assert len(commands) > 20
    for pattern, _ in NOT_RUN:
        assert any(re.search(pattern, c) for c in commands), (
            f'NOT_RUN lists {pattern!r}, which no README command matches '
            'any more: remove it.')


def run_command(command: str, cwd: str) -> ToolResult:
    """Runs one README command from ``cwd``: ``python tools/<name>.py ...``
    in this process (as :func:`run_tool` does; the tools' start-up is most of
    a tiny run's time; a sweep's steps too), anything else as a real
    process."""
    argv = shlex.split(command)
    tool = re.fullmatch(r'tools/(\w+)\.py', argv[1]) if (
        argv[0] == 'python' and len(argv) > 1) else None
    if tool:
        return run_tool(tool.group(1), *argv[2:], cwd=cwd)
    if argv[0] == 'python':
        argv[0] = sys.executable
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [REPO] + [p for p in [os.environ.get('PYTHONPATH')] if p]),
        PATH=f'{osp.dirname(sys.executable)}:{os.environ["PATH"]}')
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=900)
    return ToolResult(result.returncode, result.stdout + result.stderr)


def test_readme_commands_run_on_the_demo(workspace, steps_in_process):
    for where, command in [c for path in READMES
                           for c in shell_commands(path)]:
        if not_run_reason(command):
            continue
        command = substitute(command)
        result = run_command(command, str(workspace))
        assert result.returncode == 0, (
            f'{where}: `{command}` failed:\n{result.output[-6000:]}')
