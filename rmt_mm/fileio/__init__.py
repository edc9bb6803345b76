"""The files rmt_mm reads and writes: safe loading and checksums, mask
files, resume checkpoints, JSON side files, atomic writes. Imports nothing
else of rmt_mm."""
from .atomic import atomic_write_bytes
from .mask_file import (checkpoint_kind, load_mask_file, mask_file_checkpoint,
                        read_mask_file, save_mask_file)
from .safe_load import FileRefusedError, content_checksum, safe_load

__all__ = [
    'FileRefusedError', 'atomic_write_bytes', 'checkpoint_kind',
    'content_checksum', 'load_mask_file', 'mask_file_checkpoint',
    'read_mask_file', 'safe_load', 'save_mask_file'
]
