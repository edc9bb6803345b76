# Runtime shared by every rmt_mm config.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['rmt_mm'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Resume checkpoints: mask scores, optimizer, schedulers, RNG seeds;
    # only tensors and plain data, with a checksum.
    # About 10 per run plus the last epoch's ('auto'), the newest 2 kept.
    checkpoint=dict(type='RMTCheckpointHook', interval='auto',
                    max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
    # Validates zero-shot CLIP before training and every epoch on few-shot
    # val splits; keeps the last epoch (the paper's protocol) or, with a
    # top-level model_selection = 'best_val', the best on val (zero-shot
    # included); warns when the kept model is below zero-shot on val.
    model_selection=dict(type='RMTModelSelectionHook'),
)
custom_hooks = [
    dict(type='RMTClassPromptHook'),
    # Masks the model's mask_targets; mode='importance' chooses from data.
    dict(type='RMTParameterSelector', mode='fixed'),
    # Evaluation files: masks at one bit per entry.
    dict(type='RMTMaskFileHook', interval=None),
    # New augmentations every epoch, drawn from (seed, epoch, sample).
    dict(type='RMTEpochSeedHook'),
    # Entries switched off / on per update (log line and scalars.json).
    dict(type='RMTMaskFlipHook'),
    # Warns when the schedule cannot flip a single mask entry.
    dict(type='RMTLearningBudgetHook'),
    # Copies the few-shot subset to work_dir/fewshot_split.json.
    dict(type='RMTFewShotRecordHook'),
    # Fills a cache adapter (Tip-Adapter); a no-op for other models.
    dict(type='RMTCacheAdapterHook'),
]

# Under DDP the model's own train_step runs (RMTClassifier hands both of its
# losses to GradDropoutOptimWrapper, which averages over the processes). The
# Runner looks wrappers up in mmengine's root registry: hence the scope.
model_wrapper_cfg = dict(
    type='mmpretrain.RMTDistributedDataParallel', broadcast_buffers=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=1, deterministic=False)
