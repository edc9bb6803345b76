"""The package's layers import only downward, and no modules import each
other in a circle.

The rule, from the bottom up (a layer may import its own and lower
layers, never a higher one):

    version -> registry -> fileio -> datasets -> models -> engine -> apis
    -> runs

``registry`` (the rule for registered names, the old names' aliases)
and ``fileio`` (files, checksums, safe loading, config reading) know
nothing of rmt_mm; ``apis`` (inferencer, task server) sits on the models;
``runs`` (recipes, launch, work dirs and the tools' logic: sweep, results,
benchmark, demo) may use everything. ``patches`` (mmengine
patches) may use ``fileio`` only, and the package's ``__init__`` ties it
all together. Every import counts, including those inside functions.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / 'rmt_mm'
LAYERS = ('version', 'registry', 'fileio', 'datasets', 'models', 'engine',
          'apis', 'runs')
#: Modules outside the layers, and the layers they may import.
OUTSIDE = {'patches': {'fileio'}, '__init__': set(LAYERS) | {'patches'}}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imports_of(path: Path):
    """Absolute names of the rmt_mm modules ``path`` imports."""
    name = module_name(path)
    package = name if path.name == '__init__.py' else name.rsplit('.', 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names
                         if a.name.startswith('rmt_mm'))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module
                                          else []))
            elif (node.module or '').startswith('rmt_mm'):
                target = node.module
            else:
                continue
            # `from . import datasets` names modules, not attributes.
            for alias in node.names:
                candidate = f'{target}.{alias.name}'
                found.add(candidate if resolve(candidate) else target)
    return {m for m in found if resolve(m)}


def resolve(name: str):
    """The file of module ``name``, or None."""
    path = PACKAGE.parent.joinpath(*name.split('.'))
    for candidate in (path.with_suffix('.py'), path / '__init__.py'):
        if candidate.is_file():
            return candidate
    return None


def layer_of(name: str) -> str:
    parts = name.split('.')
    return parts[1] if len(parts) > 1 else '__init__'


def graph():
    return {module_name(p): imports_of(p) for p in PACKAGE.rglob('*.py')}


def test_every_module_belongs_to_a_layer():
    for name in graph():
        assert layer_of(name) in LAYERS or layer_of(name) in OUTSIDE, name


def test_layers_import_only_downward():
    upward = []
    for source, targets in graph().items():
        here = layer_of(source)
        for target in targets:
            there = layer_of(target)
            if here in OUTSIDE:
                allowed = there in OUTSIDE[here] or there == here
            else:
                allowed = there in LAYERS and \
                    LAYERS.index(there) <= LAYERS.index(here)
            if not allowed:
                upward.append(f'{source} -> {target}')
    assert upward == []


def test_no_modules_import_each_other_in_a_circle():
    edges = {source: {t for t in targets if t != source}
             for source, targets in graph().items()}
    # A package's __init__ re-exports its modules; importing the package
    # from one of them is how Python works, not a design circle.
    for source in edges:
        edges[source] = {t for t in edges[source]
                         if not source.startswith(t + '.')}
    state, stack = {}, []

    def visit(node):
        state[node] = 'open'
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 'open':
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail('circle: ' + ' -> '.join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 'done'

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_projects_are_imported_only_inside_functions():
    """The projects' packages (projects/*/<package>, e.g. rmt_miniature) are
    not part of rmt_mm: a module may import one only inside a function, so
    that importing rmt_mm never needs them."""
    projects = {p.parent.name for p in
                PACKAGE.parent.glob('projects/*/*/__init__.py')}
    assert 'rmt_miniature' in projects
    at_import = []
    for path in PACKAGE.rglob('*.py'):
        tree = ast.parse(path.read_text(), str(path))
        inside = {id(node) for function in ast.walk(tree)
                  if isinstance(function, (ast.FunctionDef,
                                           ast.AsyncFunctionDef))
                  for node in ast.walk(function)}
        for node in ast.walk(tree):
            if id(node) in inside:
                continue
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or '']
            else:
                continue
            at_import += [f'{module_name(path)}: {n}' for n in names
                          if n.split('.')[0] in projects]
    assert at_import == []


def test_the_check_finds_an_upward_import(tmp_path, monkeypatch):
    """The rule bites: a fake fileio module importing the engine fails."""
    fake = tmp_path / 'rmt_mm'
    (fake / 'fileio').mkdir(parents=True)
    (fake / 'engine').mkdir()
    (fake / '__init__.py').write_text('')
    (fake / 'engine' / '__init__.py').write_text('')
    (fake / 'fileio' / '__init__.py').write_text('')
    (fake / 'fileio' / 'bad.py').write_text('from ..engine import x\n')
    monkeypatch.setattr(__import__(__name__), 'PACKAGE', fake)
    with pytest.raises(AssertionError, match='rmt_mm.fileio.bad -> '
                       'rmt_mm.engine'):
        test_layers_import_only_downward()
