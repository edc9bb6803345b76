"""Image decoding that follows the dataset: CoOp's datasets as the
reference decodes them, people's own photos upright."""
import io

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio
from mmpretrain.registry import TRANSFORMS
from PIL import Image, ImageOps

#: Key of an item's data info saying whether EXIF orientation is applied.
EXIF_KEY = 'exif_orientation'


@TRANSFORMS.register_module()
class RMTLoadImage(BaseTransform):
    """Reads ``results['img_path']`` with PIL into a BGR ``uint8`` array
    (as mmcv's ``LoadImageFromFile`` gives it).

    The item's ``exif_orientation`` decides the orientation: ``False`` (the
    CoOp datasets) decodes exactly as CoOp/Dassl do,
    ``Image.open(path).convert('RGB')`` without looking at EXIF; ``True``
    (``FewShotImageFolder``, and items that do not say) first turns the
    image by its EXIF orientation tag, as cameras and phones expect.

    Args:
        backend_args: mmengine file backend arguments.

    Raises:
        FileNotFoundError: The image does not exist.
        OSError: ``failed to load image: <path>`` when PIL cannot decode it.
    """

    def __init__(self, backend_args: dict = None) -> None:
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        content = fileio.get(path, backend_args=self.backend_args)
        try:
            with Image.open(io.BytesIO(content)) as image:
                if results.get(EXIF_KEY, True):
                    image = ImageOps.exif_transpose(image)
                rgb = np.asarray(image.convert('RGB'))
        except (OSError, ValueError) as err:
            raise OSError(f'failed to load image: {path} ({err})') from err
        results['img'] = np.ascontiguousarray(rgb[..., ::-1])
        results['img_shape'] = results['ori_shape'] = rgb.shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(backend_args={self.backend_args})'
