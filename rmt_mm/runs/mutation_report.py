"""Kill rate of the last mutation run (``make mutation``).

Reads mutmut's per-mutant verdicts and the equivalent mutants listed in
docs/mutation_testing.md (lines ``- `MUTANT_NAME`: why``), prints the kill
rate over all tested mutants and over the non-equivalent ones, and lists the
survivors that are not known to be equivalent: each is a missing test.
Survivors that change only the text of an error or log message are counted
and listed apart from those that change what the code computes.
"""
import ast
import functools
import os.path as osp
import re
import subprocess
import sys
from collections import Counter
from typing import Optional

#: mutmut verdicts that count as caught by the tests.
KILLED = ('killed', 'timeout')
#: verdicts of mutants that were not run.
NOT_RUN = ('not checked', 'skipped')
#: Calls whose arguments are messages for people (logging and warnings).
MESSAGE_CALLS = {'print_log', 'warn', 'print', 'debug', 'info', 'warning',
                 'error'}


class _MessageMasker(ast.NodeTransformer):
    """Replaces every constant inside a ``raise`` or a message call by one
    placeholder, so that two functions differing only in message text
    compare equal."""

    def __init__(self) -> None:
        self.depth = 0

    def _inside(self, node: ast.AST, is_message: bool) -> ast.AST:
        self.depth += is_message
        self.generic_visit(node)
        self.depth -= is_message
        return node

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        return self._inside(node, True)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        name = getattr(node.func, 'attr', getattr(node.func, 'id', None))
        return self._inside(node, name in MESSAGE_CALLS)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Constant('<message>') if self.depth else node


@functools.lru_cache(maxsize=None)
def _functions(path: str) -> dict:
    """``{function name: def node}`` of a mutated source file."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    return {node.name: node for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _without_messages(node: ast.AST) -> str:
    node = _MessageMasker().visit(ast.parse(ast.unparse(node)))
    node.body[0].name = 'f'
    return ast.dump(node)


def message_only(name: str, root: str) -> Optional[bool]:
    """Whether mutant ``name`` (``pkg.module.x_func__mutmut_3``) changes
    only message text, from the mutated sources under ``root``; ``None``
    when they cannot be read."""
    match = re.match(r'^(.*)\.(x[_\u01c1].*)__mutmut_\d+$', name)
    if not match:
        return None
    path = osp.join(root, *match.group(1).split('.')) + '.py'
    try:
        functions = _functions(path)
    except (OSError, SyntaxError):
        return None
    mutant = functions.get(name.rsplit('.', 1)[1])
    original = functions.get(f'{match.group(2)}__mutmut_orig')
    if mutant is None or original is None:
        return None
    return _without_messages(mutant) == _without_messages(original)


def verdicts(repo: str) -> dict:
    """``{mutant name: verdict}`` from ``mutmut results --all true`` run in
    ``repo``."""
    out = subprocess.run(
        [osp.join(osp.dirname(sys.executable), 'mutmut'), 'results',
         '--all', 'true'], cwd=repo, capture_output=True, text=True,
        check=True).stdout
    return dict(line.strip().rsplit(': ', 1) for line in out.splitlines()
                if ': ' in line)


def equivalent_mutants(path: str) -> set:
    """Names listed as equivalent in the mutation testing doc."""
    with open(path, encoding='utf-8') as f:
        return set(re.findall(r'^- `([^`]+__mutmut_\d+)`', f.read(), re.M))


def module_rates(results: dict, equivalent: set) -> list:
    """Per module (``pkg.module`` of each mutant name): mutants tested, not
    run, killed and known equivalent, and the kill rate of the tested
    non-equivalent ones."""
    rows = {}
    for name, verdict in results.items():
        row = rows.setdefault(name.rsplit('.', 1)[0], dict.fromkeys(
            ('tested', 'not run', 'killed', 'equivalent'), 0))
        if verdict in NOT_RUN:
            row['not run'] += 1
            continue
        row['tested'] += 1
        row['killed'] += verdict in KILLED
        row['equivalent'] += verdict not in KILLED and name in equivalent
    return [dict(module=module, **row, rate=100 * row['killed'] / max(
        1, row['tested'] - row['equivalent'])) for module, row in
            sorted(rows.items())]


def print_report(results: dict, equivalent: set, mutants: str) -> int:
    """Prints the kill rates of mutmut's ``results`` (``{mutant name:
    verdict}``) without the ``equivalent`` mutants, per module, and the
    survivors (their sources under ``mutants``); 1 when no mutant was
    tested."""
    counts = Counter(results.values())
    tested = {k: v for k, v in results.items() if v not in NOT_RUN}
    killed = [k for k, v in tested.items() if v in KILLED]
    missed = [k for k, v in tested.items() if v not in KILLED]
    real = [k for k in missed if k not in equivalent]
    print('mutmut verdicts: ' + ', '.join(
        f'{n} {v}' for v, n in sorted(counts.items())))
    if not tested:
        print('No mutant was tested.')
        return 1
    print(f'kill rate: {len(killed)}/{len(tested)} = '
          f'{100 * len(killed) / len(tested):.1f} % of tested mutants')
    print(f'kill rate without the {len(missed) - len(real)} known '
          f'equivalent mutants: {len(killed)}/{len(killed) + len(real)} = '
          f'{100 * len(killed) / (len(killed) + len(real)):.1f} %')
    print(f"{'module':<40}{'tested':>8}{'not run':>9}{'killed':>8}"
          f"{'equiv.':>8}{'kill rate':>11}")
    for row in module_rates(results, equivalent):
        print(f"{row['module']:<40}{row['tested']:>8}{row['not run']:>9}"
              f"{row['killed']:>8}{row['equivalent']:>8}{row['rate']:>10.1f}"
              '%')
    messages = [k for k in real if message_only(k, mutants)]
    logic = [k for k in real if k not in messages]
    print(f'kill rate of the mutants that change what the code computes '
          f'(without the {len(messages)} that change only the text of an '
          f'error or log message): {len(killed)}/{len(killed) + len(logic)}'
          f' = {100 * len(killed) / max(1, len(killed) + len(logic)):.1f} %')
    for title, names in (('Survivors that change what the code computes',
                          logic),
                         ('Survivors that change only message text',
                          messages)):
        if names:
            print(f'{title} (see `mutmut show NAME`):')
            print('\n'.join(f'  {k}: {tested[k]}' for k in sorted(names)))
    return 0
