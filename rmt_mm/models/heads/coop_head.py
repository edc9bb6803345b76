"""CoOp's class head: learnable context vectors shared by all classes in
front of each class name, run through the frozen text encoder
(method.md section 9)."""
from contextlib import contextmanager
from typing import Optional, Sequence

import torch
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from ..masked_clip import MaskedCLIP
from .prompt_head import prompt_name

#: The placeholder word whose token embeddings the context replaces.
PLACEHOLDER = 'X'


@contextmanager
def token_embeddings_replaced(clip: MaskedCLIP, embeddings: Tensor):
    """Makes ``clip``'s token-embedding layer return ``embeddings``, so that
    open_clip's own ``encode_text`` runs (positional embedding, transformer,
    final norm, end-of-text pooling by the token ids, projection) on them.
    """
    handle = clip.clip.token_embedding.register_forward_hook(
        lambda module, args, output: embeddings.to(output.dtype))
    try:
        yield
    finally:
        handle.remove()


@MODELS.register_module()
class RMTCoOpHead(nn.Module):
    """CoOp: ``[SOT] ctx_1 .. ctx_M <class name tokens> . [EOT] pad`` with
    the ``M`` context vectors learned ("class token at the end", one unified
    context). Only the context trains; the text encoder stays frozen.

    Args:
        num_context: ``M`` (16 in CoOp).
        init_std: Std of the normal initialisation of the context (0.02).
        fixed_names_must_match: Fixed class names (``classnames`` of the
            classifier) must equal the dataset's, since the context is
            trained on the dataset's labels.
    """

    fixed_names_must_match = True

    def __init__(self, num_context: int = 16, init_std: float = 0.02) -> None:
        super().__init__()
        if num_context < 1:
            raise ValueError(f'num_context must be >= 1, got {num_context}.')
        self.num_context = num_context
        self.init_std = init_std
        self.context: Optional[nn.Parameter] = None
        self.classnames: tuple = ()
        self.register_buffer('tokens', torch.empty(0, dtype=torch.long),
                             persistent=False)
        self.register_buffer('prefix', torch.empty(0), persistent=False)
        self.register_buffer('suffix', torch.empty(0), persistent=False)
        self._cache: Optional[Tensor] = None
        self._cache_key: Optional[tuple] = None

    def setup(self, clip: MaskedCLIP) -> None:
        """Creates the context vectors at the text encoder's width."""
        embedding = clip.clip.token_embedding
        context = torch.empty(self.num_context, embedding.embedding_dim,
                              device=embedding.weight.device)
        nn.init.normal_(context, std=self.init_std)
        self.context = nn.Parameter(context)

    def set_classes(self, clip: MaskedCLIP, classnames: Sequence[str],
                    templates: Sequence[str] = ()) -> None:
        """Tokenises ``X .. X <name>.`` per class; the templates are not
        used (the context replaces them)."""
        classnames = tuple(classnames)
        if classnames == self.classnames:
            return
        placeholder = ' '.join([PLACEHOLDER] * self.num_context)
        texts = [f'{placeholder} {prompt_name(c)}.' for c in classnames]
        tokens = clip.tokenize(texts).to(self.context.device)
        longest = max(len(clip.tokenizer.encode(t)) for t in texts) + 2
        if longest > tokens.shape[1]:
            raise ValueError(
                f'A CoOp prompt needs {longest} tokens but the text encoder '
                f'takes {tokens.shape[1]}: lower num_context '
                f'({self.num_context}) or shorten the class names.')
        with torch.no_grad():
            embedded = clip.clip.token_embedding(tokens)
        self.tokens = tokens
        self.prefix = embedded[:, :1]
        self.suffix = embedded[:, 1 + self.num_context:]
        self.classnames = classnames
        self._cache_key = None

    def token_embeddings(self) -> Tensor:
        """``(num_classes, context_length, width)``: start token, context,
        class-name tokens, end token and padding."""
        context = self.context.unsqueeze(0).expand(len(self.classnames), -1,
                                                   -1)
        return torch.cat([self.prefix, context.to(self.prefix.dtype),
                          self.suffix], dim=1)

    def forward(self, clip: MaskedCLIP) -> Tensor:
        """``(num_classes, embed_dim)`` unit class features; cached while
        neither training nor tracking gradients."""
        if self.training and torch.is_grad_enabled():
            return self._encode(clip)
        key = (self.classnames, self.context._version, id(self.context))
        if self._cache_key != key:
            with torch.no_grad():
                self._cache = self._encode(clip)
            self._cache_key = key
        return self._cache

    def _encode(self, clip: MaskedCLIP) -> Tensor:
        with token_embeddings_replaced(clip, self.token_embeddings()):
            return clip.encode_text(self.tokens, normalize=True)
