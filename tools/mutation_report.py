"""Kill rate of the last mutation run (``make mutation``): mutmut's
verdicts, the equivalent mutants docs/mutation_testing.md lists, and the
survivors (what is counted, and how: rmt_mm/runs/mutation_report.py).
"""
import os.path as osp
import sys

from rmt_mm.runs.mutation_report import (equivalent_mutants, print_report,
                                         verdicts)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DOC = osp.join(REPO, 'docs', 'mutation_testing.md')
MUTANTS = osp.join(REPO, 'mutants')


def main() -> int:
    return print_report(verdicts(REPO), equivalent_mutants(DOC), MUTANTS)


if __name__ == '__main__':
    sys.exit(main())
