from .mask_file import checkpoint_kind, load_mask_file, save_mask_file
from .refusals import refuse_bad_files
from .safe_load import FileRefusedError, content_checksum, safe_load

__all__ = [
    'FileRefusedError', 'checkpoint_kind', 'content_checksum',
    'load_mask_file', 'refuse_bad_files', 'safe_load', 'save_mask_file'
]
