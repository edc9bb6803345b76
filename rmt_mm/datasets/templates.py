"""Hand-written CLIP prompt templates, one per dataset (CoOp's choice).

Every constant is a tuple of format strings with one ``{}`` for the class
name; the datasets expose theirs as ``dataset.metainfo['templates']``.
"""

PHOTO = ('a photo of a {}.', )
"""Stanford Cars, SUN397, Caltech101, ImageNet and its variants, own data."""

OXFORD_PETS = ('a photo of a {}, a type of pet.', )
OXFORD_FLOWERS = ('a photo of a {}, a type of flower.', )
FGVC_AIRCRAFT = ('a photo of a {}, a type of aircraft.', )
DTD = ('{} texture.', )
EUROSAT = ('a centered satellite photo of {}.', )
FOOD101 = ('a photo of {}, a type of food.', )
UCF101 = ('a photo of a person doing {}.', )
