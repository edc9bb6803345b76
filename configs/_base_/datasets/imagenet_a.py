# Domain generalisation: masks learned on few-shot ImageNet (train/val as in
# ./imagenet.py) are tested on ImageNet-A (200 classes).
# Layout and downloads: docs/data_preparation.md.
_base_ = './imagenet.py'
test_dataloader = dict(
    dataset=dict(type='RMTFewShotImageNetA', data_root='data/imagenet-adversarial', split='test'))
