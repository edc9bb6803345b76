# Domain generalisation: masks learned on few-shot ImageNet (train/val as in
# ./imagenet.py) are tested on ImageNet-V2 (matched frequency, 1000 classes).
# Layout and downloads: docs/data_preparation.md.
_base_ = './imagenet.py'
test_dataloader = dict(
    dataset=dict(type='RMTFewShotImageNetV2', data_root='data/imagenetv2', split='test'))
