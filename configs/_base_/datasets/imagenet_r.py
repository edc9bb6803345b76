# Domain generalisation: masks learned on few-shot ImageNet (train/val as in
# ./imagenet.py) are tested on ImageNet-R (200 classes).
# Layout and downloads: docs/data_preparation.md.
_base_ = './imagenet.py'
test_dataloader = dict(
    dataset=dict(type='RMTFewShotImageNetR', data_root='data/imagenet-rendition', split='test'))
