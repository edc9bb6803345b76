# Domain generalisation: masks learned on few-shot ImageNet (train/val as in
# ./imagenet.py) are tested on ImageNet-Sketch (1000 classes).
# Layout and downloads: docs/data_preparation.md.
_base_ = './imagenet.py'
test_dataloader = dict(
    dataset=dict(type='RMTFewShotImageNetSketch', data_root='data/imagenet-sketch', split='test'))
