from .cache_adapter_hook import RMTCacheAdapterHook, image_features
from .checkpoint_hook import RMTCheckpointHook
from .class_prompt_hook import RMTClassPromptHook, set_classes_from_dataset
from .epoch_seed_hook import RMTEpochSeedHook
from .fewshot_record_hook import FEWSHOT_RECORD, RMTFewShotRecordHook
from .learning_budget_hook import (RECIPE_FILE, RMTLearningBudgetHook,
                                   scheduled_lr_sum)
from .mask_file_hook import FINAL_MASK_FILE, RMTMaskFileHook
from .mask_flip_hook import RMTMaskFlipHook, limit_flips
from .model_selection_hook import MODEL_SELECTION_RECORD, RMTModelSelectionHook
from .parameter_selector import (SELECTION_FILE, ParameterSelector,
                                 candidate_groups, select_top)

__all__ = [
    'FEWSHOT_RECORD', 'FINAL_MASK_FILE', 'ParameterSelector', 'RECIPE_FILE',
    'RMTCacheAdapterHook', 'RMTCheckpointHook', 'RMTClassPromptHook',
    'RMTEpochSeedHook', 'RMTFewShotRecordHook', 'RMTLearningBudgetHook',
    'RMTMaskFileHook', 'RMTMaskFlipHook', 'RMTModelSelectionHook',
    'SELECTION_FILE', 'MODEL_SELECTION_RECORD', 'candidate_groups',
    'image_features', 'limit_flips', 'scheduled_lr_sum', 'select_top',
    'set_classes_from_dataset'
]
