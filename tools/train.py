"""Train R-AMT masks with the mmengine Runner (mmpretrain's arguments;
what the run does: rmt_mm/runs/train.py)."""
import argparse
from typing import Optional, Sequence

from rmt_mm.runs import refuse_bad_files
from rmt_mm.runs.launch import add_common_args, add_selection_args
from rmt_mm.runs.train import run_training


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train R-AMT masks')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest '
        'checkpoint in the work dir when no path is given')
    parser.add_argument(
        '--amp', action='store_true', help='mixed precision (GPU only)')
    parser.add_argument(
        '--amp-dtype',
        choices=['float16', 'bfloat16'],
        help='autocast dtype for --amp (default: float16)')
    parser.add_argument(
        '--no-validate', action='store_true', help='skip validation')
    parser.add_argument(
        '--allow-other-weights',
        action='store_true',
        help='resume (or load_from) a checkpoint whose mask scores were '
        'learned on other CLIP weights (refused by default)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the effective batch (processes x batch x '
        'accumulation) over auto_scale_lr.base_batch_size')
    add_selection_args(parser)
    add_common_args(parser, 'optim_wrapper.lam=1.0 train_cfg.max_epochs=50')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    run_training(parse_args(argv))


if __name__ == '__main__':
    with refuse_bad_files():
        main()
