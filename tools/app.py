"""A web page to try tuned models: one CLIP serving every given mask file
as a task, plus zero-shot CLIP on any class names you type (the page:
rmt_mm/apis/app.py).

Needs the optional extra: ``pip install -e .[demo]``. Example (the digits
demo model, after ``python tools/demo.py --world digits``)::

    python tools/app.py configs/demo/rmt_tiny_digits.py \\
        demo_output/work/digits/masks_final.pth \\
        --examples demo_output/data/test
"""
import argparse
import sys
from typing import Optional, Sequence

import rmt_mm  # noqa: F401  (registers components, applies shims)
from rmt_mm.apis.app import serve
from rmt_mm.runs import refuse_bad_files
from rmt_mm.runs.user_config import CfgOptionsAction


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the config the masks were trained '
                        'with')
    parser.add_argument('masks', nargs='*', metavar='[NAME=]MASKS',
                        help='mask files, one task each, named NAME or '
                        'after the file')
    parser.add_argument('--examples', help='a folder of images to pick from '
                        '(the first image of each sub-folder)')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings, key=value')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    try:
        import gradio  # noqa: F401
    except ImportError:
        sys.exit('Error: The page needs Gradio: pip install -e .[demo]')
    serve(args.config, args.masks, args.examples, args.cfg_options,
          args.device, args.host, args.port)


if __name__ == '__main__':
    with refuse_bad_files():
        main()
