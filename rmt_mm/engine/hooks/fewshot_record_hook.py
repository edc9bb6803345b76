"""Keeps a copy of the few-shot subset a run trained on in its work dir."""
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ...fileio.atomic import atomic_write_bytes

FEWSHOT_RECORD = 'fewshot_split.json'


@HOOKS.register_module()
class RMTFewShotRecordHook(Hook):
    """Copies the training set's few-shot choice (the JSON that FewShot*
    datasets write under ``data_root/split_fewshot`` and reuse) to
    ``work_dir/fewshot_split.json``, so each run records its images."""

    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        source = getattr(dataset, 'fewshot_cache_file', None)
        if is_main_process() and source and osp.isfile(source):
            with open(source, 'rb') as file:
                atomic_write_bytes(file.read(),
                                   osp.join(runner.work_dir, FEWSHOT_RECORD))
