"""The export of tools/export.py (rmt_mm/apis/export.py): masks folded
into plain open_clip weights."""
import open_clip
import torch
from rmt_testing import TINY_VIT, run_tool, save_random_weights

from rmt_mm.apis.export import export_clip
from rmt_mm.models import MaskedCLIP


def test_export_folds_the_mask_file_into_open_clip_weights(tmp_path):
    weights = save_random_weights(TINY_VIT, str(tmp_path / 'clip.pt'))
    model = MaskedCLIP(arch=TINY_VIT, pretrained=weights).eval()
    with torch.no_grad():
        for _, scores in model.masks.items():
            scores.copy_(torch.rand(scores.shape) * 0.01)
    masks = str(tmp_path / 'masks.pth')
    model.save_masks(masks)
    config = tmp_path / 'cfg.py'
    config.write_text(f'model = dict(backbone=dict(type="RMTMaskedCLIP", '
                      f'arch={TINY_VIT!r}, pretrained={weights!r}))\n')
    out = str(tmp_path / 'out.pt')
    exported = export_clip(str(config), masks, out)
    assert exported.sparsity() == model.sparsity()
    plain = open_clip.CLIP(**TINY_VIT).eval()
    open_clip.load_checkpoint(plain, out)
    images = torch.rand(2, 3, 32, 32)
    # Exact by construction: the exported weights are W * mask folded with
    # the same op as the model's, and the same kernels run in this process.
    # The random masks drop about half the entries: far from zero-shot.
    with torch.no_grad():
        assert torch.equal(plain.encode_image(images),
                           model.encode_image(images))
        assert not torch.equal(plain.encode_image(images),
                               model.clip.encode_image(images))
    # The tool prints what it wrote.
    result = run_tool('export', str(config), masks, '--out', out)
    assert result.returncode == 0
    assert f'Wrote {out}: ' in result.output
