"""Kill rate of the last mutation run (``make mutation``).

Reads mutmut's per-mutant verdicts and the equivalent mutants listed in
docs/mutation_testing.md (lines ``- `MUTANT_NAME`: why``), prints the kill
rate over all tested mutants and over the non-equivalent ones, and lists the
survivors that are not known to be equivalent: each is a missing test.
"""
import os.path as osp
import re
import subprocess
import sys
from collections import Counter

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DOC = osp.join(REPO, 'docs', 'mutation_testing.md')
#: mutmut verdicts that count as caught by the tests.
KILLED = ('killed', 'timeout')
#: verdicts of mutants that were not run.
NOT_RUN = ('not checked', 'skipped')


def verdicts() -> dict:
    """``{mutant name: verdict}`` from ``mutmut results --all true``."""
    out = subprocess.run(
        [osp.join(osp.dirname(sys.executable), 'mutmut'), 'results',
         '--all', 'true'], cwd=REPO, capture_output=True, text=True,
        check=True).stdout
    return dict(line.strip().rsplit(': ', 1) for line in out.splitlines()
                if ': ' in line)


def equivalent_mutants(path: str) -> set:
    """Names listed as equivalent in the mutation testing doc."""
    with open(path, encoding='utf-8') as f:
        return set(re.findall(r'^- `([^`]+__mutmut_\d+)`', f.read(), re.M))


def main() -> int:
    results = verdicts()
    equivalent = equivalent_mutants(DOC)
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
    if real:
        print('Survivors not known to be equivalent (see `mutmut show '
              'NAME`):')
        print('\n'.join(f'  {k}: {tested[k]}' for k in sorted(real)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
