import os
import os.path as osp
import sys

import pytest
from rmt_testing import REPO, load_tool

from rmt_mm.runs import sweep, sweep_launchers
from rmt_mm.runs.experiments import (IMAGENET_VARIANTS, gdr_lambda,
                                     metrics_path, run_dir, zero_shot_dir)

sweep_cli = load_tool('sweep')
DTD = osp.join(REPO, 'configs/rmt/rmt_vitb16_dtd_16shot.py')
IMAGENET = osp.join(REPO, 'configs/rmt/rmt_vitb16_imagenet_16shot.py')


def plan(argv):
    args = sweep_cli.parse_args(argv)
    experiments = [sweep.load_experiment(n, c)
                   for n, c in sweep.config_specs(args)]
    variants = sweep.variant_datasets() if args.imagenet_variants else {}
    return sweep.plan_runs(experiments, args, variants)


def cfg_options(cmd):
    if '--cfg-options' not in cmd:
        return []
    return cmd[cmd.index('--cfg-options') + 1:]


def flag(cmd, name):
    return cmd[cmd.index(name) + 1] if name in cmd else None


def touch(path, text='{}'):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


@pytest.mark.parametrize('dataset,shots,base_to_new,lam', [
    ('dtd', 16, False, 0.3),
    ('eurosat', 16, False, 0.3),
    ('my_folder', 16, False, 0.3),
    ('imagenet', 16, False, 1.0),
    ('sun397', 16, False, 1.0),
    ('food101', 16, False, 1.0),
    ('dtd', 1, False, 1.0),
    ('dtd', 8, False, 1.0),
    ('dtd', 16, True, 1.0),
])
def test_gdr_lambda_follows_the_paper(dataset, shots, base_to_new, lam):
    assert gdr_lambda(dataset, shots, base_to_new) == lam


def test_grid_order_options_and_commands(tmp_path):
    root = str(tmp_path / 'sweep')
    runs, finished = plan(['--datasets', 'dtd', '--config-template',
                           osp.join(REPO, 'configs/rmt/rmt_vitb16_'
                                    '{dataset}_16shot.py'),
                           '--shots', '1', '16', '--seeds', '1', '2',
                           '--work-root', root])
    assert finished == 0
    assert [r.label for r in runs] == [
        'dtd shots=1 seed=1', 'dtd shots=1 seed=2', 'dtd shots=16 seed=1',
        'dtd shots=16 seed=2'
    ]
    run = runs[3]
    assert run.work_dir == run_dir(root, 'dtd', 16, 2)
    train, test = run.steps
    assert train.kind == 'train' and test.kind == 'test'
    assert train.cmd[:3] == [sys.executable,
                             osp.join(REPO, 'tools', 'train.py'), DTD]
    assert train.cmd[3:5] == ['--work-dir', run.work_dir]
    assert '--resume' not in train.cmd
    # Shots and seed go through the switches, which also pick lambda and
    # the low-shot recipe: nothing is left for --cfg-options.
    assert train.cmd[5:] == ['--shots', '16', '--seed', '2']
    assert flag(runs[0].steps[0].cmd, '--shots') == '1'
    assert cfg_options(train.cmd) == []
    assert test.cmd[1:4] == [
        osp.join(REPO, 'tools', 'test.py'), DTD,
        osp.join(run.work_dir, 'masks_final.pth')
    ]
    assert test.done_file == metrics_path(run.work_dir)
    assert test.cmd[test.cmd.index('--out') + 1] == test.out_file
    assert test.out_file != test.done_file
    assert flag(test.cmd, '--seed') == '2'
    assert '--shots' not in test.cmd and cfg_options(test.cmd) == []


def test_config_without_val_gets_no_val_options(tmp_path):
    runs, _ = plan(['--configs', f'imagenet={IMAGENET}', '--shots', '4',
                    '--seeds', '3', '--work-root', str(tmp_path)])
    cmd = runs[0].steps[0].cmd
    assert (flag(cmd, '--shots'), flag(cmd, '--seed')) == ('4', '3')
    assert cfg_options(cmd) == []


def test_zero_shot_and_imagenet_variants(tmp_path):
    root = str(tmp_path)
    runs, _ = plan(['--configs', f'imagenet={IMAGENET}', '--shots', '16',
                    '--seeds', '1', '--zero-shot', '--imagenet-variants',
                    '--work-root', root,
                    '--cfg-options', 'model.backbone.pretrained=/w.pt'])
    zero, trained = runs
    assert zero.label == 'imagenet zero-shot'
    assert [s.done_file for s in zero.steps] == [
        metrics_path(zero_shot_dir(root, 'imagenet'), t)
        for t in [None] + list(IMAGENET_VARIANTS)
    ]
    for step in zero.steps:
        assert step.cmd[2] == IMAGENET and step.cmd[3] == '--work-dir'
    assert cfg_options(zero.steps[0].cmd) == [
        'model.backbone.pretrained=/w.pt'
    ]
    assert cfg_options(zero.steps[1].cmd) == [
        'test_dataloader.dataset.type=RMTFewShotImageNetV2',
        'test_dataloader.dataset.data_root=data/imagenetv2',
        'model.backbone.pretrained=/w.pt'
    ]
    assert [s.kind for s in trained.steps] == ['train'] + ['test'] * 5
    assert cfg_options(trained.steps[4].cmd)[:2] == [
        'test_dataloader.dataset.type=RMTFewShotImageNetA',
        'test_dataloader.dataset.data_root=data/imagenet-adversarial'
    ]
    assert 'model.backbone.pretrained=/w.pt' in cfg_options(
        trained.steps[0].cmd)


def test_variants_only_apply_to_imagenet(tmp_path):
    runs, _ = plan(['--configs', DTD, '--shots', '16', '--seeds', '1',
                    '--imagenet-variants', '--work-root', str(tmp_path)])
    assert runs[0].label.startswith('rmt_vitb16_dtd_16shot ')
    assert [s.kind for s in runs[0].steps] == ['train', 'test']


def test_base_to_new(tmp_path):
    root = str(tmp_path)
    runs, _ = plan(['--configs', f'dtd={DTD}', '--shots', '16', '--seeds',
                    '1', '--base-to-new', '--zero-shot', '--work-root', root])
    zero, trained = runs
    assert zero.work_dir == zero_shot_dir(root, 'dtd', base_to_new=True)
    assert trained.work_dir == run_dir(root, 'dtd', 16, 1, base_to_new=True)
    options = cfg_options(trained.steps[0].cmd)
    assert 'train_dataloader.dataset.subsample=base' in options
    assert 'val_dataloader.dataset.subsample=base' in options
    assert not any(o.startswith('optim_wrapper.lam') for o in options)
    for run in runs:
        tests = [s for s in run.steps if s.kind == 'test']
        assert [cfg_options(s.cmd)[0] for s in tests] == [
            'test_dataloader.dataset.subsample=base',
            'test_dataloader.dataset.subsample=new'
        ]
        assert [s.done_file for s in tests] == [
            metrics_path(run.work_dir, 'base'),
            metrics_path(run.work_dir, 'new')
        ]


def test_finished_trained_and_interrupted_runs(tmp_path):
    root = str(tmp_path)
    argv = ['--configs', f'dtd={DTD}', '--shots', '1', '2', '4', '8',
            '--seeds', '1', '--work-root', root]
    finished = run_dir(root, 'dtd', 1, 1)
    touch(metrics_path(finished))
    trained = run_dir(root, 'dtd', 2, 1)
    touch(osp.join(trained, 'masks_final.pth'))
    resumable = run_dir(root, 'dtd', 4, 1)
    touch(osp.join(resumable, 'epoch_3.pth'))
    touch(osp.join(resumable, 'last_checkpoint'),
          osp.join(resumable, 'epoch_3.pth'))
    stale = run_dir(root, 'dtd', 8, 1)
    touch(osp.join(stale, 'last_checkpoint'), osp.join(stale, 'gone.pth'))
    touch(metrics_path(stale).replace('.json', '.partial.json'))

    runs, done = plan(argv)
    assert done == 1
    by_dir = {r.work_dir: r for r in runs}
    assert finished not in by_dir
    assert [s.kind for s in by_dir[trained].steps] == ['test']
    # train.py picks the newest intact checkpoint itself.
    assert '--resume' in by_dir[resumable].steps[0].cmd
    assert by_dir[stale].steps[0].kind == 'train'
    assert '--resume' not in by_dir[stale].steps[0].cmd


def test_gpus_use_dist_train(tmp_path):
    runs, _ = plan(['--configs', DTD, '--shots', '1', '--seeds', '1',
                    '--gpus', '4', '--train-args=--amp',
                    '--work-root', str(tmp_path)])
    train, test = runs[0].steps
    assert train.cmd[:4] == ['bash', osp.join(REPO, 'tools',
                                              'dist_train.sh'), DTD, '4']
    assert '--amp' in train.cmd
    assert test.cmd[1] == osp.join(REPO, 'tools', 'test.py')


def test_config_names_and_errors(tmp_path):
    args = sweep_cli.parse_args(['--datasets', 'dtd', '--configs', 'a.py',
                                 'b=x/c.py'])
    assert sweep.config_specs(args) == [
        ('dtd', 'configs/rmt/rmt_vitb16_dtd_16shot.py'), ('a', 'a.py'),
        ('b', 'x/c.py')
    ]
    with pytest.raises(ValueError, match='unique'):
        sweep.config_specs(sweep_cli.parse_args(['--configs', 'x/a.py',
                                                 'y/a.py']))
    with pytest.raises(FileNotFoundError, match='nope'):
        sweep.load_experiment('nope', str(tmp_path / 'nope.py'))
    with pytest.raises(SystemExit):
        sweep_cli.parse_args(['--shots', '1'])


def test_dry_run_prints_commands(tmp_path, capsys):
    assert sweep_cli.main(['--configs', f'dtd={DTD}', '--shots', '2',
                           '--seeds', '1', '2', '--zero-shot', '--dry-run',
                           '--work-root', str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert '3 run(s): 0 finished, 3 to do.' in out
    assert '[1/3] dtd zero-shot' in out and '[3/3] dtd shots=2 seed=2' in out
    assert '--shots 2 --seed 1' in out
    assert not os.listdir(tmp_path)


def test_eta_and_duration():
    steps = [sweep.Step('train', [], ''), sweep.Step('test', [], '')]
    assert sweep_launchers.estimate_eta(steps, {'train': [10.0]}) is None
    # Exact: means of given durations (15.0 + 4.0), no clock involved.
    assert sweep_launchers.estimate_eta(steps, {
        'train': [10.0, 20.0],
        'test': [4.0]
    }) == 19.0
    assert sweep_launchers.format_duration(3725) == '1:02:05'
    assert sweep_launchers.format_duration(None) == '?'


def test_execute_renames_outputs_and_goes_on_after_failures(tmp_path,
                                                            capsys):
    def writer(path):
        return [sys.executable, '-c', f'open({path!r}, "w").write("{{}}")']

    good = str(tmp_path / 'good')
    os.makedirs(good)
    partial, done = osp.join(good, 'm.partial.json'), osp.join(good, 'm.json')
    runs = [
        sweep.Run('bad', str(tmp_path / 'bad'), [
            sweep.Step('train', [sys.executable, '-c', 'raise SystemExit(3)'],
                       str(tmp_path / 'bad' / 'never'))
        ]),
        sweep.Run('good', good,
                  [sweep.Step('test', writer(partial), done, partial)]),
    ]
    assert sweep.execute(runs, fail_fast=False) == ['bad']
    assert osp.isfile(done) and not osp.exists(partial)
    out = capsys.readouterr().out
    assert '[1/2] bad' in out and '[2/2] good' in out and 'FAILED' in out
    assert 'SystemExit(3)' in open(tmp_path / 'bad' / 'sweep.log').read()
    os.remove(done)
    assert sweep.execute(runs, fail_fast=True) == ['bad']
    assert not osp.exists(done)


def test_data_root_and_fixed_lambda_reach_every_command(tmp_path):
    runs, _ = plan(['--configs', f'imagenet={IMAGENET}', '--shots', '1',
                    '--seeds', '2', '--imagenet-variants', '--zero-shot',
                    '--data-root', '/datasets', '--lam', '0.5',
                    '--work-root', str(tmp_path)])
    zero, trained = runs
    train = trained.steps[0].cmd
    assert flag(train, '--data-root') == '/datasets'
    assert cfg_options(train) == ['optim_wrapper.lam=0.5']
    for step in zero.steps + trained.steps[1:]:
        assert flag(step.cmd, '--data-root') == '/datasets'
    # The variants' folders move below --data-root too.
    assert ('test_dataloader.dataset.data_root=/datasets/imagenetv2'
            in cfg_options(zero.steps[1].cmd))


def test_methods_side_by_side_plan(tmp_path):
    root = str(tmp_path / 'sweep')
    runs, _ = sweep.plan_sweep(sweep_cli.parse_args([
        '--datasets', 'dtd', '--methods', 'all', '--shots', '4', '16',
        '--seeds', '1', '--work-root', root]))
    by_label = {r.label: r for r in runs}
    assert list(by_label)[:2] == ['dtd zero-shot', 'dtd shots=4 seed=1']
    assert by_label['dtd zero-shot'].steps[0].cmd[2].endswith(
        'rmt_vitb16_dtd_16shot.py')  # R-AMT's config without masks
    # R-AMT: the config's lambda ('auto'), tested from the mask file.
    rmt = by_label['dtd shots=4 seed=1'].steps
    assert flag(rmt[0].cmd, '--shots') == '4'
    assert rmt[1].cmd[3].endswith('masks_final.pth')
    # CoOp: no lambda, CoOp's 100 epochs at 4 shots, its own folder,
    # tested from the last epoch's checkpoint.
    coop = by_label['coop dtd shots=4 seed=1']
    train = cfg_options(coop.steps[0].cmd)
    assert not any('lam' in o for o in train)
    assert {'train_cfg.max_epochs=100', 'param_scheduler.1.end=100',
            'param_scheduler.1.T_max=99'} <= set(train)
    assert coop.work_dir == run_dir(osp.join(root, 'coop'), 'dtd', 4, 1)
    assert coop.steps[1].cmd[3] == osp.join(coop.work_dir, 'epoch_100.pth')
    coop16 = by_label['coop dtd shots=16 seed=1'].steps  # the config's 200
    assert not any('max_epochs' in o for o in cfg_options(coop16[0].cmd))
    assert coop16[1].cmd[3].endswith('epoch_200.pth')
    # Tip-Adapter: no training; the test builds the cache of this run.
    tip = by_label['tip_adapter dtd shots=4 seed=1'].steps
    assert [s.kind for s in tip] == ['test']
    assert flag(tip[0].cmd, '--shots') == '4'
    assert 'tip_adapter_vitb16_dtd_16shot.py' in tip[0].cmd[2]
    # Combinations: tested from their checkpoint.
    combo = by_label['coop_rmt dtd shots=16 seed=1'].steps
    assert flag(combo[0].cmd, '--seed') == '1'
    assert combo[1].cmd[3].endswith('epoch_30.pth')


def test_unknown_method_names_the_choices(capsys):
    with pytest.raises(SystemExit):
        sweep_cli.parse_args(['--datasets', 'dtd', '--methods', 'rmt', 'lora'])
    err = capsys.readouterr().err
    assert "unknown method(s) ['lora']" in err and 'tip_adapter_f' in err
