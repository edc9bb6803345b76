"""Tools print what matters: the warnings every run used to repeat are
gone (issue 21: quiet tools)."""
import warnings

from rmt_mm.engine.hooks.learning_budget_hook import scheduled_lr_sum


def test_mmcv_lite_missing_op_warning_is_filtered_by_rmt_mm():
    with warnings.catch_warnings(record=True) as caught:
        warnings.warn('Fail to import ``MultiScaleDeformableAttention`` from '
                      '``mmcv.ops.multi_scale_deform_attn``, You should '
                      'install ``mmcv`` rather than ``mmcv-lite``.')
        warnings.warn('another warning')
    assert [str(w.message) for w in caught] == ['another warning']


def test_the_learning_budget_steps_no_scheduler_before_its_optimizer():
    cosine = [dict(type='CosineAnnealingLR', by_epoch=True, eta_min=0.)]
    with warnings.catch_warnings():
        warnings.filterwarnings('error', message=r'.*scheduler\.step\(\)')
        total, updates = scheduled_lr_sum(8e-5, cosine, 3, 2)
    assert updates == 6 and total > 0
