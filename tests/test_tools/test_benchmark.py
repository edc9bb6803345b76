"""tools/benchmark.py runs end to end on a tiny model and reports every
figure (the figures themselves are machine-dependent and not asserted)."""
import json
import os
from types import SimpleNamespace

import pytest
from rmt_testing import TINY_VIT, load_tool, run_tool

from rmt_mm.models import MaskedCLIP
from rmt_mm.runs.benchmark import building, methods, tasks

FIGURES = ('rmt_step_s', 'finetune_step_s', 'forward_s', 'rmt_peak_mb',
           'finetune_peak_mb', 'eval_masked_ips', 'eval_exported_ips',
           'eval_openclip_ips', 'mask_save_s', 'mask_load_s',
           'mask_file_bytes', 'rmt_over_finetune_step',
           'rmt_over_finetune_peak', 'masked_over_openclip_eval',
           'exported_over_openclip_eval', 'mask_save_load_s')


def run_benchmark(tmp_path, *args: str):
    """Runs tools/benchmark.py in this process on the tiny model (one
    thread) and returns what it printed and the figures of its --json
    file."""
    out = tmp_path / 'bench.json'
    run = run_tool('benchmark', '--arch-json', json.dumps(TINY_VIT),
                   '--threads', '1', *args, '--json', str(out))
    assert run.returncode == 0, run.output[-3000:]
    return run, json.loads(out.read_text())


def test_benchmark_reports_every_figure(tmp_path):
    # The fewest repetitions: only the figures' presence is checked.
    run, results = run_benchmark(tmp_path, '--batch-size', '2',
                                 '--repeats', '1', '--warmup', '0',
                                 '--eval-repeats', '1', '--eval-builds', '2',
                                 '--methods')
    # Only signs of timings and sizes, never their values: a duration of
    # real work measured with perf_counter is > 0 at any load.
    for key in FIGURES:
        assert isinstance(results[key], (int, float)), key
        assert results[key] > 0, key
    settings = results['settings']
    assert settings['arch'] == json.loads(json.dumps(TINY_VIT))
    assert (settings['batch_size'], settings['repeats']) == (2, 1)
    assert settings['image_size'] == TINY_VIT['vision_cfg']['image_size']
    assert set(results['targets']) >= {'rmt_over_finetune_step',
                                       'mask_save_load_s'}
    # Every method beside R-AMT, each combination beside its base.
    methods = results['methods']
    for method in ('coop', 'tip_adapter_f', 'coop_rmt', 'tip_adapter_rmt',
                   'tip_adapter_f_rmt'):
        assert methods[f'{method}_over_rmt_step'] > 0, method
    for method in ('zero_shot', 'coop', 'tip_adapter', 'tip_adapter_f_rmt'):
        assert methods[f'{method}_over_rmt_eval'] > 0, method
    assert methods['coop_rmt_over_coop']['same_operations']
    assert 'CoOp + R-AMT / CoOp' in run.output
    # Every target is printed with its verdict.
    assert run.output.count('PASS') + run.output.count('MISS') == len(
        results['targets']) + 4  # and the four combination/base ratios


def test_amp_needs_cuda(capsys):
    with pytest.raises(SystemExit):
        load_tool('benchmark').parse_args(['--amp', '--device', 'cpu'])
    assert '--amp needs CUDA' in capsys.readouterr().err


def test_arch_json_from_file_and_default_threads(tmp_path):
    path = tmp_path / 'arch.json'
    path.write_text(json.dumps(TINY_VIT))
    args = load_tool('benchmark').parse_args(['--arch-json', str(path)])
    assert args.arch == json.loads(json.dumps(TINY_VIT))
    assert args.threads == len(os.sched_getaffinity(0))


def test_task_server_mode_reports_every_figure(tmp_path):
    run, results = run_benchmark(tmp_path, '--mode', 'tasks', '--tasks',
                                 '3', '--requests', '3', '--batch-size', '2',
                                 '--repeats', '1')
    for key in ('server_startup_s', 'separate_models_startup_s',
                'forward_s', 'switch_s', 'switch_cold_s', 'task_text_mib',
                'single_stream_s', 'alternating_stream_s'):
        assert results[key] > 0, key
    # 3 tasks x (10 % of the tiny model's masked entries, 1 bit each).
    masked = sum(TINY_VIT['vision_cfg']['width']**2 * k
                 for k in (3, 1)) * TINY_VIT['vision_cfg']['layers'] + (
        TINY_VIT['vision_cfg']['width'] * 3 *
        TINY_VIT['vision_cfg']['patch_size']**2)
    # Byte counts: 1 bit per entry, each of the 5 tensors padded to whole
    # bytes (< 8 bytes in all), via float64 MiB (exact to ~1e-10 here).
    assert results['task_mask_mib'] * 2**20 == pytest.approx(masked / 8,
                                                             abs=8)
    # Seeded draws dropping 10% of ~14k entries: a share within ~0.003 of
    # 0.1 (one sigma); abs=0.01 is over three sigma.
    assert results['task_sparsity'] == pytest.approx(0.1, abs=0.01)
    assert results['settings']['tasks'] == 3
    # 1, 2 and 4 threads at once, each result checked against the task's
    # logits computed alone.
    for callers in (1, 2, 4):
        assert results[f'callers_{callers}_ips'] > 0, callers
        assert f'{callers} concurrent caller(s)' in run.output
    # The same two floats (JSON keeps their repr) divided again: exact in
    # fact; approx's default rel=1e-6 is the loosest it needs.
    assert results['callers_4_over_1'] == pytest.approx(
        results['callers_4_ips'] / results['callers_1_ips'])
    # The tool compares each concurrent result with torch.equal to the
    # task's logits computed alone: exact whatever the load, since every
    # caller computes with one intra-op thread (--threads 1).
    assert results['concurrent_wrong'] == 0
    assert run.output.count('PASS') + run.output.count('MISS') == 6


def test_methods_mode_times_only_the_methods(tmp_path):
    run, results = run_benchmark(tmp_path, '--mode', 'methods',
                                 '--batch-size', '2', '--repeats', '1',
                                 '--eval-repeats', '2', '--eval-builds', '3')
    assert set(results) == {'methods', 'settings'}
    settings = results['settings']
    assert (settings['mode'], settings['eval_repeats'],
            settings['eval_builds']) == ('methods', 2, 3)
    compared = results['methods']['tip_adapter_f_rmt_over_tip_adapter_f']
    assert len(compared['ratios']) == 3
    # Exact: the median is a copy of one of the ratios.
    assert compared['ratio'] == sorted(compared['ratios'])[1]
    assert results['methods']['zero_shot_over_zero_shot']['same_operations']
    assert run.output.count('PASS') + run.output.count('MISS') == 4
    assert '(control)' in run.output
    assert 'R-AMT training step' not in run.output


@pytest.mark.parametrize('base, combo', [('zero_shot', 'rmt'),
                                         ('coop', 'coop_rmt'),
                                         ('tip_adapter_f',
                                          'tip_adapter_f_rmt')])
def test_folded_combination_runs_its_base_methods_operations(
        base, combo, monkeypatch):
    args = load_tool('benchmark').parse_args([
        '--arch-json', json.dumps(TINY_VIT), '--batch-size', '2'])
    images, _ = building.make_batch(methods.build_method(base, args), args)
    base_ops = methods.evaluation_operations(
        methods.build_for_evaluation(base, args), images)
    combination = methods.build_for_evaluation(combo, args)
    assert methods.evaluation_operations(combination, images) == base_ops
    # Masks applied again on every forward (no folding) are seen.
    fold = MaskedCLIP.effective_weights

    def refold(self):
        self._folded_key = None
        return fold(self)

    monkeypatch.setattr(MaskedCLIP, 'effective_weights', refold)
    assert methods.evaluation_operations(combination, images) != base_ops


def test_caller_counts_are_timed_in_alternating_rounds(monkeypatch):
    """Load drift during the run must hit 1, 2 and 4 callers alike (timed
    one count after the other, a rising load made more callers look
    slower)."""
    order = []

    def timed(server, images, callers, expected, args):
        order.append(callers)
        return {1: 4.0, 2: 8.0, 4: 16.0}[callers] * len(order), 0

    monkeypatch.setattr(tasks, '_time_callers_once', timed)
    server = SimpleNamespace(tasks=['a'], logits=lambda images, task: None)
    args = SimpleNamespace(repeats=3, requests=2, batch_size=2)
    results = tasks.time_callers(server, None, args)
    assert order == [1, 2, 4] * 3
    # Medians of rounds at positions 1/4/7, 2/5/8 and 3/6/9 of the run:
    # 4 x 4 = 16 s for 1 x 2 x 2 images; 8 x 5 = 40 s for 2 x 2 x 2. Exact:
    # the same correctly rounded divisions of exact inputs on any CPU.
    assert results['callers_1_ips'] == 4 / 16
    assert results['callers_2_over_1'] == (8 / 40) / (4 / 16)
    assert results['callers_4_ips'] == 16 / (16 * 6)
