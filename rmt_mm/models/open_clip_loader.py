"""Builds open_clip CLIP models from an architecture and a weight source."""
import difflib
import os
import zipfile
from typing import Callable, Dict, Optional, Tuple, Union

import open_clip
import torch
from open_clip.tokenizer import SimpleTokenizer
from torch import Tensor, nn

from ..fileio.safe_load import safe_load

ArchSpec = Union[str, dict]


def _check_arch_name(arch: str) -> None:
    available = open_clip.list_models()
    if arch not in available:
        close = difflib.get_close_matches(arch, available, n=5, cutoff=0.5)
        hint = f' Did you mean one of {close}?' if close else ''
        raise ValueError(
            f'Unknown open_clip architecture {arch!r}.{hint} '
            'Use a name from open_clip.list_models() (e.g. "ViT-B-16", '
            '"ViT-L-14", "RN50") or a dict of open_clip model config '
            '(embed_dim, vision_cfg, text_cfg).')


def _is_torchscript_archive(path: str) -> bool:
    """Whether ``path`` is a TorchScript zip (OpenAI's ``ViT-B-16.pt``):
    it holds compiled code, unlike a ``torch.save`` file."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith('/constants.pkl') or '/code/' in name
                   for name in archive.namelist())


def _read_weight_file(path: str) -> Tuple[Dict[str, Tensor], bool]:
    """Reads an OpenAI JIT archive or a (possibly wrapped) state dict.

    State dicts are read with PyTorch's safe loader; JIT archives with
    TorchScript's, which builds only TorchScript types and imports no Python
    objects.

    Returns:
        The state dict and whether the file was an OpenAI JIT archive.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f'Pretrained weight file {path!r} does not exist. Give an '
            'open_clip pretrained tag (e.g. "openai"), a local OpenAI JIT '
            'archive (e.g. ViT-B-16.pt) or a state-dict file saved with '
            'torch.save.')
    if not _is_torchscript_archive(path):
        checkpoint = safe_load(path)
        if isinstance(checkpoint, dict) and 'state_dict' in checkpoint:
            checkpoint = checkpoint['state_dict']
        if not isinstance(checkpoint, dict):
            raise ValueError(
                f'{path!r} holds a {type(checkpoint).__name__}, not a state '
                'dict or an OpenAI JIT archive.')
        return {k[len('module.'):] if k.startswith('module.') else k: v
                for k, v in checkpoint.items()}, False
    state = torch.jit.load(path, map_location='cpu').state_dict()
    for key in ('input_resolution', 'context_length', 'vocab_size'):
        state.pop(key, None)
    return state, True


def _load_strict(model: nn.Module, state: Dict[str, Tensor],
                 source: str) -> None:
    """Loads ``state`` and names every key that does not fit ``model``."""
    expected = model.state_dict()
    # Scripted archives also carry non-persistent buffers (e.g. attn_mask).
    for name, _ in model.named_buffers():
        if name not in expected:
            state.pop(name, None)
    if 'logit_scale' in state and 'logit_scale' in expected:
        state['logit_scale'] = state['logit_scale'].reshape(
            expected['logit_scale'].shape)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(
        f'{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}'
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape)
    if missing or unexpected or wrong_shape:
        def show(keys):
            return ', '.join(keys[:8]) + (' ...' if len(keys) > 8 else '')
        raise ValueError(
            f'The weights in {source!r} do not match the architecture. '
            f'Missing keys ({len(missing)}): {show(missing)}; unexpected '
            f'keys ({len(unexpected)}): {show(unexpected)}; shape '
            f'mismatches ({len(wrong_shape)}): {show(wrong_shape)}. Check '
            'that `arch` names the model these weights belong to.')
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in
                           state.items()})


def build_open_clip(arch: ArchSpec,
                    pretrained: Optional[str] = None,
                    quick_gelu: Optional[bool] = None) -> nn.Module:
    """Builds an fp32 open_clip CLIP model.

    Args:
        arch: An open_clip model name (``'ViT-B-16'``, ``'RN50'``, ...) or a
            dict of open_clip model config (``embed_dim``, ``vision_cfg``,
            ``text_cfg``, optional ``quick_gelu``).
        pretrained: ``None`` for random weights, an open_clip pretrained tag
            of ``arch`` (downloads on first use) or a local file: an OpenAI
            JIT archive or a state dict.
        quick_gelu: Force QuickGELU on or off. ``None`` decides: on for the
            ``openai`` tag and for OpenAI JIT archives, which were trained
            with it; the architecture's own setting otherwise.

    Returns:
        The model in eval mode.
    """
    if isinstance(arch, str):
        _check_arch_name(arch)
    is_tag = (isinstance(arch, str) and pretrained is not None
              and pretrained in open_clip.list_pretrained_tags_by_model(arch))
    if pretrained is not None and not is_tag and not os.path.exists(
            pretrained):
        tags = (open_clip.list_pretrained_tags_by_model(arch)
                if isinstance(arch, str) else [])
        raise FileNotFoundError(
            f'pretrained={pretrained!r} is neither a local file nor an '
            f'open_clip tag of {arch!r} (tags: {tags}). Give a path to an '
            'OpenAI JIT archive or a state dict, or one of the tags.')
    if is_tag:
        if quick_gelu is None:
            quick_gelu = pretrained == 'openai'
        model = open_clip.create_model(
            arch, pretrained=pretrained, force_quick_gelu=quick_gelu)
        return model.float().eval()

    state, is_jit = (_read_weight_file(pretrained) if pretrained is not None
                     else (None, False))
    if quick_gelu is None:
        quick_gelu = is_jit
    if isinstance(arch, str):
        model = open_clip.create_model(arch, force_quick_gelu=quick_gelu)
    else:
        cfg = dict(arch)
        cfg['quick_gelu'] = quick_gelu or cfg.get('quick_gelu', False)
        model = open_clip.CLIP(**cfg)
    if state is not None:
        _load_strict(model, state, pretrained)
    return model.float().eval()


def build_tokenizer(arch: ArchSpec) -> Callable:
    """The tokenizer matching ``arch`` (bundled BPE for dict configs)."""
    if isinstance(arch, str):
        return open_clip.get_tokenizer(arch)
    context_length = arch.get('text_cfg', {}).get('context_length', 77)
    return SimpleTokenizer(context_length=context_length)
