from .mask_file import checkpoint_kind, load_mask_file, save_mask_file

__all__ = ['checkpoint_kind', 'load_mask_file', 'save_mask_file']
