"""tools/mutation_report.py (rmt_mm/runs/mutation_report.py): the kill rate
with and without the equivalent mutants the doc lists."""
from rmt_mm.runs import mutation_report as report

VERDICTS = {
    'm.f__mutmut_1': 'killed', 'm.f__mutmut_2': 'timeout',
    'm.f__mutmut_3': 'survived', 'm.f__mutmut_4': 'survived',
    'm.f__mutmut_5': 'no tests', 'm.f__mutmut_6': 'not checked'}


def test_kill_rate_subtracts_listed_equivalent_mutants(tmp_path, capsys):
    doc = tmp_path / 'mutation_testing.md'
    doc.write_text('- `m.f__mutmut_3`: returns the same value\n'
                   'text `m.f__mutmut_4` in prose is not a listing\n')
    equivalent = report.equivalent_mutants(str(doc))
    assert equivalent == {'m.f__mutmut_3'}
    assert report.print_report(VERDICTS, equivalent,
                               str(tmp_path / 'mutants')) == 0
    out = capsys.readouterr().out
    # Rates are ratios of small integers in Python float64 (40.0 and 50.0
    # come out exactly), formatted to one decimal: exact on any machine.
    assert 'kill rate: 2/5 = 40.0 % of tested mutants' in out
    assert 'equivalent mutants: 2/4 = 50.0 %' in out
    assert 'm.f__mutmut_4: survived' in out
    assert 'm.f__mutmut_5: no tests' in out
    assert 'm.f__mutmut_3' not in out.split('Survivors')[1]
    # Per module: 5 tested, 1 not run, 2 killed, 1 equivalent: 2/4.
    row, = report.module_rates(VERDICTS, {'m.f__mutmut_3'})
    assert row == dict(module='m', tested=5, killed=2, equivalent=1,
                       rate=50.0, **{'not run': 1})
    assert 'm' + ' ' * 39 + '       5        1       2       1      50.0%' \
        in out


def test_survivors_changing_only_message_text_are_told_apart(tmp_path):
    package = tmp_path / 'pkg'
    package.mkdir()
    (package / 'mod.py').write_text(
        'def x_f__mutmut_orig(a):\n'
        '    if a == "auto":\n'
        '        raise ValueError(f"bad {a!r}: give a number")\n'
        '    print_log("using " + a, logger="current")\n'
        '    return a\n'
        'def x_f__mutmut_1(a):\n'
        '    if a == "auto":\n'
        '        raise ValueError(f"XXbad {a!r}: give a numberXX")\n'
        '    print_log("using " + a, logger="current")\n'
        '    return a\n'
        'def x_f__mutmut_2(a):\n'
        '    if a == "XXautoXX":\n'
        '        raise ValueError(f"bad {a!r}: give a number")\n'
        '    print_log("using " + a, logger="current")\n'
        '    return a\n'
        'def x_f__mutmut_3(a):\n'
        '    if a == "auto":\n'
        '        raise ValueError(f"bad {a!r}: give a number")\n'
        '    print_log("USING " + a, logger="current")\n'
        '    return a\n'
        'def x_f__mutmut_4(a):\n'
        '    if a == "auto":\n'
        '        raise ValueError(f"bad {a!r}: give a number")\n'
        '    print_log("using " + a, logger="current")\n'
        '    return None\n')
    root = str(tmp_path)
    assert report.message_only('pkg.mod.x_f__mutmut_1', root) is True
    assert report.message_only('pkg.mod.x_f__mutmut_2', root) is False
    assert report.message_only('pkg.mod.x_f__mutmut_3', root) is True
    assert report.message_only('pkg.mod.x_f__mutmut_4', root) is False
    assert report.message_only('pkg.gone.x_f__mutmut_1', root) is None
