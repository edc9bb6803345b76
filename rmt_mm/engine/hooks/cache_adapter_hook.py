"""Builds a cache adapter's cache from the training split and searches its
alpha and beta on the validation split (Tip-Adapter, method.md section 9).
"""
import copy
from typing import Tuple

import torch
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import DATASETS, HOOKS
from torch import Tensor
from torch.utils.data import DataLoader

from .class_prompt_hook import set_classes_from_dataset


def _loader(loader_cfg, batch_size: int = None) -> DataLoader:
    """The dataset of ``loader_cfg`` in file order, in this process."""
    dataset = DATASETS.build(copy.deepcopy(loader_cfg['dataset']))
    return DataLoader(dataset, batch_size=batch_size or
                      loader_cfg.get('batch_size', 32), shuffle=False,
                      num_workers=0, collate_fn=pseudo_collate)


@torch.no_grad()
def image_features(model, loader: DataLoader,
                   normalize: bool = True) -> Tuple[Tensor, Tensor]:
    """Image features (the model's image encoder as it is now, masks on)
    and labels of every sample of ``loader``."""
    features, labels = [], []
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        features.append(model.backbone.encode_image(data['inputs'],
                                                    normalize=normalize))
        labels.append(torch.cat([s.gt_label for s in data['data_samples']]))
    return torch.cat(features), torch.cat(labels).to(features[0].device)


def image_paths(dataset) -> set:
    """The ``img_path`` of every sample of an mmengine dataset."""
    dataset.full_init()
    return {dataset.get_data_info(i).get('img_path')
            for i in range(len(dataset))}


@HOOKS.register_module()
class RMTCacheAdapterHook(Hook):
    """Fills the classifier's cache adapter, if it has one.

    - Before training, and before testing a model whose cache is empty
      (``tools/test.py`` without a checkpoint, training-free Tip-Adapter):
      keys are the image features of the training split, averaged over the
      adapter's ``augment_passes`` passes of the training pipeline, then
      L2-normalised (as Tip-Adapter's code does); values are the one-hot
      labels.
    - Before testing, ``alpha`` and ``beta`` are searched on the validation
      split unless the checkpoint holds searched ones. The search refuses a
      validation split that shares images with the test split.

    Runs before ``RMTClassPromptHook`` so that the test classes are set
    last. A model without an adapter is left alone.
    """

    priority = 'HIGH'

    @staticmethod
    def _adapter_model(runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        return model if getattr(model, 'adapter', None) is not None else None

    def before_train(self, runner) -> None:
        model = self._adapter_model(runner)
        if model is not None and not model.adapter.has_cache:
            self.build_cache(runner, model)

    def before_test(self, runner) -> None:
        model = self._adapter_model(runner)
        if model is None:
            return
        if not model.adapter.has_cache:
            self.build_cache(runner, model)
        if not bool(model.adapter.searched):
            self.search(runner, model)

    def build_cache(self, runner, model) -> None:
        """Keys and values from the training split."""
        loader_cfg = runner.cfg.get('train_dataloader')
        if not loader_cfg or not loader_cfg.get('dataset'):
            raise ValueError(
                f'{type(model.adapter).__name__} builds its cache from the '
                'training split, but the config has no train_dataloader. '
                "Give it the few-shot training set (the method's config "
                'does), or test a checkpoint that holds the cache.')
        loader = _loader(loader_cfg)
        mode = model.training
        model.eval()
        passes = [image_features(model, loader, normalize=False)
                  for _ in range(model.adapter.augment_passes)]
        model.train(mode)
        features = torch.stack([f for f, _ in passes]).mean(0)
        labels = passes[0][1]
        classes = loader.dataset.metainfo['classes']
        model.adapter.build_cache(features, labels, len(classes))
        print_log(
            f'Cache adapter: {len(labels)} keys from the training split '
            f'(mean of {len(passes)} augmented passes), {len(classes)} '
            'classes', logger='current')

    def search(self, runner, model) -> None:
        """``alpha`` and ``beta`` by accuracy on the validation split."""
        val_cfg = runner.cfg.get('val_dataloader')
        if not val_cfg or not val_cfg.get('dataset'):
            print_log(
                'Cache adapter: no val_dataloader, alpha='
                f'{float(model.adapter.alpha):g} and beta='
                f'{float(model.adapter.beta):g} from the config are used '
                '(never searched on the test split).',
                logger='current', level=30)
            return
        loader = _loader(val_cfg)
        test_cfg = runner.cfg.get('test_dataloader')
        if test_cfg and test_cfg.get('dataset'):
            shared = image_paths(loader.dataset) & image_paths(
                DATASETS.build(copy.deepcopy(test_cfg['dataset'])))
            if shared:
                raise ValueError(
                    f'The validation split shares {len(shared)} images with '
                    'the test split (e.g. a folder dataset without val/); '
                    'searching alpha and beta there would tune on the test '
                    'set. Give val_dataloader a split of its own, or fix '
                    'model.adapter.alpha/beta and set val_dataloader=None.')
        mode = model.training
        model.eval()
        set_classes_from_dataset(model, loader.dataset)
        features, labels = image_features(model, loader)
        clip_logits = (model.backbone.logit_scale * features
                       @ model.text_features.t())
        alpha, beta, accuracy = model.adapter.search(features, clip_logits,
                                                     labels)
        model.train(mode)
        print_log(
            f'Cache adapter: searched on the validation split '
            f'({len(labels)} images): alpha={alpha:.4g}, beta={beta:.4g}, '
            f'val top-1 {accuracy:.2f}%', logger='current')
