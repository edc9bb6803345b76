"""A web page to try tuned models (``tools/app.py``): one CLIP serving every
given mask file as a task, plus zero-shot CLIP on any class names typed.

Needs the optional extra Gradio (``pip install -e .[demo]``), imported only
by the functions that build or answer the page. Uploads reach the model's
own image reader undecoded, so every bad upload (not an image, truncated,
too many pixels) is answered with its reason.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from .inputs import ImageInput, ImageInputError
from .results import top_classes
from .task_server import RMTTaskServer

#: The page's own tasks: zero-shot CLIP on the config's classes, and on the
#: class names typed into the page.
ZERO_SHOT = 'zero-shot CLIP'
TYPED = 'typed class names'
#: Classes shown per prediction.
TOP = 5


def named_tasks(masks: Sequence[str]) -> List[Tuple[str, str]]:
    """``(task name, mask file)`` per ``[NAME=]MASKS`` argument. Unnamed
    files are called after their file name, with their folder when two
    files share a name.

    Raises:
        ValueError: If two tasks get one name, or one the name of a task
            the page adds itself.
    """
    pairs = [m.split('=', 1) if '=' in m else (None, m) for m in masks]
    stems = [osp.splitext(osp.basename(path))[0] for _, path in pairs]
    names = [
        name or (stem if stems.count(stem) == 1 else
                 f'{osp.basename(osp.dirname(osp.abspath(path)))}/{stem}')
        for (name, path), stem in zip(pairs, stems)
    ]
    if len(set(names)) < len(names):
        raise ValueError(f'Two mask files have the same task name in '
                         f'{list(masks)}; name them: NAME=MASKS.')
    reserved = sorted({ZERO_SHOT, TYPED} & set(names))
    if reserved:
        raise ValueError(
            f'The task name {reserved[0]!r} is the page\'s own; call the '
            'mask file something else: NAME=MASKS.')
    return [(name, path) for name, (_, path) in zip(names, pairs)]


def example_images(folder: Optional[str], limit: int = 10) -> List[str]:
    """The first image of each sub-folder (or the folder's own files)."""
    if not folder:
        return []
    if not osp.isdir(folder):
        raise FileNotFoundError(f'--examples {folder!r} is not a folder.')
    found = []
    for entry in sorted(os.listdir(folder)):
        path = osp.join(folder, entry)
        if osp.isdir(path):
            files = sorted(f for f in os.listdir(path)
                           if not f.startswith('.'))
            found += [osp.join(path, files[0])] if files else []
        elif not entry.startswith('.'):
            found.append(path)
    return found[:limit]


def build_server(config: str, masks: Sequence[str],
                 cfg_options: Optional[dict] = None,
                 device: str = 'cpu') -> RMTTaskServer:
    """One CLIP with a task per mask file and the zero-shot task."""
    server = RMTTaskServer.from_config(config, cfg_options, device=device)
    for name, path in named_tasks(masks):
        server.add_task(name, path)
    server.add_task(ZERO_SHOT)
    return server


def describe(server: RMTTaskServer, name: str) -> str:
    """One line of Markdown about a task."""
    task = server.task(name)
    source = (f'mask file `{osp.basename(task.mask_file)}`'
              if task.mask_file else 'no masks (zero-shot CLIP)')
    return (f'**{name}**: {len(task.classnames)} classes, {source}, '
            f'sparsity **{task.sparsity:.2%}**')


def upload_source(upload) -> ImageInput:
    """The image behind what the page hands the callback: Gradio's file
    payload (the page does not let Gradio decode uploads) becomes its
    path; paths and arrays stay as they are."""
    if not isinstance(upload, dict):
        return upload
    if not upload.get('path'):
        raise ValueError('The upload did not arrive as a file; upload the '
                         'image again.')
    return upload['path']


class Classifier:
    """The page's callback: image + task (or typed names) -> top-5."""

    def __init__(self, server: RMTTaskServer) -> None:
        self.server = server

    def task_for(self, task: str, typed: str) -> str:
        """The task to run; typed class names make a zero-shot task."""
        if not typed.strip():
            return task
        names = [n.strip() for n in typed.split(',') if n.strip()]
        if not names:
            raise ValueError('Type class names separated by commas, e.g. '
                             '"cat, dog, red fox".')
        if TYPED not in self.server.tasks or \
                self.server.task(TYPED).classnames != tuple(names):
            self.server.add_task(TYPED, classnames=names, replace=True)
        return TYPED

    def __call__(self, image, task: str, typed: str) -> tuple:
        import gradio as gr
        if image is None:
            raise gr.Error('Upload or pick an image first.')
        upload = (image.get('orig_name') if isinstance(image, dict)
                  else None) or 'this image'
        try:
            name = self.task_for(task, typed or '')
            result = self.server.predict(upload_source(image), task=name)[0]
        except ImageInputError as error:
            # The reader names the image by its temporary path: drop it.
            reason = str(error).partition(': ')[2] or str(error)
            raise gr.Error(f'Cannot classify {upload}: {reason}') from None
        except (KeyError, ValueError) as error:
            raise gr.Error(str(error).strip('"')) from None
        classnames = self.server.task(name).classnames
        scores: Dict[str, float] = dict(
            top_classes(result, classnames, TOP))
        return scores, describe(self.server, name)


def build_page(server: RMTTaskServer, examples: Sequence[str] = ()):
    """The Gradio page (not launched); it works offline, sending no usage
    statistics."""
    import gradio as gr
    classify = Classifier(server)
    with gr.Blocks(title='R-AMT: try a tuned CLIP',
                   analytics_enabled=False) as page:
        gr.Markdown('# R-AMT: try a tuned CLIP\nOne CLIP serves every task '
                    'below; each task is a mask file of one bit per masked '
                    'weight.')
        with gr.Row():
            with gr.Column():
                # The callback reads the file itself (preprocess=False).
                image = gr.Image(type='filepath', label='image',
                                 elem_id='image')
                task = gr.Dropdown(server.tasks, value=server.tasks[0],
                                   label='task', elem_id='task')
                typed = gr.Textbox(
                    label='or zero-shot on these class names '
                    '(comma-separated)', placeholder='cat, dog, red fox',
                    elem_id='typed')
                button = gr.Button('Classify', variant='primary',
                                   elem_id='classify')
                if examples:
                    gr.Examples(list(examples), inputs=image,
                                label='pick an image')
            with gr.Column():
                label = gr.Label(num_top_classes=TOP, label='top-5',
                                 elem_id='prediction')
                info = gr.Markdown(describe(server, server.tasks[0]),
                                   elem_id='task-info')
        task.change(lambda name: describe(server, name), task, info)
        button.click(classify, [image, task, typed], [label, info],
                     preprocess=False, api_name='classify')
    return page


def serve(config: str,
          masks: Sequence[str],
          examples: Optional[str] = None,
          cfg_options: Optional[dict] = None,
          device: str = 'cpu',
          host: str = '127.0.0.1',
          port: int = 7860) -> None:
    """Builds the server and the page and serves it until stopped.

    Args:
        config: The config the masks were trained with.
        masks: ``[NAME=]MASKS`` arguments, one task each.
        examples: A folder of images to pick from.
        cfg_options: Config overrides.
        device: The model's device.
        host: The address to listen on.
        port: The port to listen on.
    """
    server = build_server(config, masks, cfg_options, device)
    build_page(server, example_images(examples)).launch(
        server_name=host, server_port=port)
