"""Few-shot datasets following CoOp's protocol, registered in mmpretrain."""
from .coop import (FewShotCaltech101, FewShotDTD, FewShotEuroSAT,
                   FewShotFGVCAircraft, FewShotFlowers102, FewShotFood101,
                   FewShotOxfordPets, FewShotStanfordCars, FewShotSUN397,
                   FewShotUCF101)
from .fewshot import FewShotDataset
from .image_folder import FewShotImageFolder
from .imagenet_variants import (FewShotImageNet, FewShotImageNetA,
                                FewShotImageNetR, FewShotImageNetSketch,
                                FewShotImageNetV2)
from .samplers import RMTGlobalBatchSampler, updates_per_epoch
from .transforms import RMTLoadImage

__all__ = [
    'FewShotDataset', 'FewShotCaltech101', 'FewShotOxfordPets',
    'FewShotStanfordCars', 'FewShotFlowers102', 'FewShotFood101',
    'FewShotFGVCAircraft', 'FewShotSUN397', 'FewShotDTD', 'FewShotEuroSAT',
    'FewShotUCF101', 'FewShotImageNet', 'FewShotImageNetV2',
    'FewShotImageNetSketch', 'FewShotImageNetA', 'FewShotImageNetR',
    'FewShotImageFolder', 'RMTGlobalBatchSampler', 'RMTLoadImage',
    'updates_per_epoch'
]
