"""DiffAugment and CLIP preprocessing against the paper code's definitions, on fixed tensors.

Each reference below is written from the definition (per-pixel loops, explicit bilinear weights), not from
any implementation.
"""

import math

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF

from promptgen.energies.base import EnergyInput
from promptgen.energies.clip import CLIPEnergy
from promptgen.energies.diffaug import (
    brightness,
    contrast,
    cutout,
    cutout_params,
    diff_augment,
    resize,
    saturation,
    translation,
    translation_params,
)


def _images(n: int = 3, h: int = 9, w: int = 9, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_color_transforms_follow_their_formulas() -> None:
    x = _images()
    u = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    xn = x.numpy()
    ref_b = xn + (u.numpy()[:, None, None, None] - 0.5)
    ref_s = np.empty_like(xn)
    ref_c = np.empty_like(xn)
    for b in range(3):
        mean_c = xn[b].mean(axis=0)  # per pixel, over channels
        ref_s[b] = (xn[b] - mean_c) * (2 * u[b].item()) + mean_c
        mean = xn[b].mean()
        ref_c[b] = (xn[b] - mean) * (u[b].item() + 0.5) + mean
    np.testing.assert_allclose(brightness(x, u).numpy(), ref_b, atol=1e-12)
    np.testing.assert_allclose(saturation(x, u).numpy(), ref_s, atol=1e-12)
    np.testing.assert_allclose(contrast(x, u).numpy(), ref_c, atol=1e-12)


def test_translation_shifts_whole_pixels_and_fills_black() -> None:
    x = _images(h=8, w=10)
    shift = torch.tensor([[2, -1], [-3, 0], [0, 1]])
    ref = np.zeros_like(x.numpy())
    for b in range(3):
        for i in range(8):
            for j in range(10):
                si, sj = i + shift[b, 0].item(), j + shift[b, 1].item()
                if 0 <= si < 8 and 0 <= sj < 10:
                    ref[b, :, i, j] = x[b, :, si, sj].numpy()
    np.testing.assert_array_equal(translation(x, shift).numpy(), ref)
    # Shifts are drawn in {−s, …, s}, s = ⌊size/8 + ½⌋ (1 for 8 rows, 1 for 10 columns).
    params = translation_params(_images(400, 8, 10), torch.Generator().manual_seed(0))
    assert set(params[:, 0].tolist()) == {-1, 0, 1} and set(params[:, 1].tolist()) == {-1, 0, 1}


def _bilinear(img: np.ndarray, out: int) -> np.ndarray:
    """Bilinear resize of (C, H, H) to (C, out, out), half-pixel centres, edge-clamped, no antialiasing."""
    size = img.shape[-1]
    scale = size / out

    def taps(d: int) -> tuple[int, int, float]:
        s = max((d + 0.5) * scale - 0.5, 0.0)
        i0 = min(int(math.floor(s)), size - 1)
        return i0, min(i0 + 1, size - 1), s - i0

    res = np.zeros((img.shape[0], out, out))
    for a in range(out):
        y0, y1, fy = taps(a)
        for b in range(out):
            x0, x1, fx = taps(b)
            top = img[:, y0, x0] * (1 - fx) + img[:, y0, x1] * fx
            bottom = img[:, y1, x0] * (1 - fx) + img[:, y1, x1] * fx
            res[:, a, b] = top * (1 - fy) + bottom * fy
    return res


@pytest.mark.parametrize("ratio", [0.8, 0.93, 1.0, 1.07, 1.2])
def test_resize_is_centred_zoom_padded_black_or_cropped(ratio) -> None:
    x = _images(2, 10, 10)
    new = int(ratio * 10)
    ref = np.zeros((2, 3, 10, 10))
    for b in range(2):
        r = _bilinear(x[b].numpy(), new)
        if new < 10:
            pad = int((10 - new) / 2)
            ref[b, :, pad : pad + new, pad : pad + new] = r
        else:
            off = int((new - 10) / 2)
            ref[b] = r[:, off : off + 10, off : off + 10]
    np.testing.assert_allclose(resize(x, ratio).numpy(), ref, atol=1e-10)


def test_resize_ratio_is_one_per_image_shared_by_its_copies() -> None:
    x = _images(2, 10, 10).repeat(4, 1, 1, 1)  # copy k is image k mod 2
    y = diff_augment(x, "resize", torch.Generator().manual_seed(3), n_images=2)
    for k in range(2, 8):
        torch.testing.assert_close(y[k], y[k % 2], rtol=0, atol=0)
    ratios = set()
    for seed in range(200):
        y = diff_augment(_images(1, 10, 10), "resize", torch.Generator().manual_seed(seed), n_images=1)
        ratios.add(int((y[0, 0] == 0).all(dim=0).sum()))  # black columns: zoom-out padding
    assert ratios == {0, 1, 2}  # ⌊r·10⌋ ∈ {8, 9, 10, 11}: 2, 1 or 0 black columns


def test_cutout_zeroes_a_clipped_half_size_rectangle() -> None:
    x = _images(3, 8, 7)
    centre = torch.tensor([[0, 0], [4, 3], [8, 7]])
    ch, cw = 4, 4  # ⌊8/2 + ½⌋, ⌊7/2 + ½⌋
    ref = x.numpy().copy()
    for b in range(3):
        for i in range(8):
            for j in range(7):
                ti, lj = centre[b, 0].item() - ch // 2, centre[b, 1].item() - cw // 2
                if ti <= i < ti + ch and lj <= j < lj + cw:
                    ref[b, :, i, j] = 0
    np.testing.assert_array_equal(cutout(x, centre).numpy(), ref)
    params = cutout_params(_images(400, 8, 7), torch.Generator().manual_seed(0))
    assert params[:, 0].min() == 0 and params[:, 0].max() == 8  # {0, …, size − (size_c mod 2)}
    assert params[:, 1].max() == 7


class Recorder(torch.nn.Module):
    """A CLIP stand-in that records what the energy hands it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach())
        return torch.nn.functional.normalize(x.flatten(1)[:, :4] + 2, dim=-1)

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        return torch.nn.functional.normalize(torch.ones(len(texts), 4), dim=-1)


def test_clip_energy_augments_in_unit_range_and_never_clamps() -> None:
    clip = Recorder()
    white = torch.ones(2, 3, 16, 16)
    CLIPEnergy(clip, "t", n_aug=30, policy="translation")(EnergyInput(white, generator=torch.Generator()))
    seen = clip.seen[-1]
    assert seen.min() == -1.0 and seen.max() == 1.0  # shifted-in border is black (−1 in CLIP's input)
    bright = torch.full((2, 3, 16, 16), 1.4)
    CLIPEnergy(clip, "t", n_aug=4, policy="cutout")(EnergyInput(bright, generator=torch.Generator()))
    assert clip.seen[-1].max() == pytest.approx(1.4)  # not clamped before or after augmenting
    assert clip.seen[-1].min() == -1.0  # cutout is black


def test_open_clip_preprocessing_is_torchvision_resize_without_antialias_and_no_clamp(tiny_clip_32) -> None:
    x = torch.rand(2, 3, 48, 40, generator=torch.Generator().manual_seed(0)) * 2.2 - 1.1
    unit = (x + 1) / 2
    ref = TF.resize(unit, 32, interpolation=TF.InterpolationMode.BICUBIC, antialias=False)
    ref = TF.center_crop(ref, [32, 32])
    ref = TF.normalize(ref, tiny_clip_32.mean.flatten().tolist(), tiny_clip_32.std.flatten().tolist())
    torch.testing.assert_close(tiny_clip_32.preprocess(x), ref, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def tiny_clip_32(tmp_path_factory):
    import json

    from promptgen.models.clip import load_open_clip

    cfg = {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    }
    path = tmp_path_factory.mktemp("clip") / "test-tiny-clip-32.json"
    path.write_text(json.dumps(cfg))
    return load_open_clip(model="test-tiny-clip-32", model_config=str(path))
