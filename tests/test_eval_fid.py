"""FID through clean-fid: our statistics path equals ``cleanfid.fid.compute_fid`` on the same images."""

import numpy as np
import pytest
import torch
from cleanfid import fid as cleanfid
from PIL import Image

from eval.metric_fid import clean_fid_extractor, feature_statistics, fid_from_statistics, quantise


class Pooled(torch.nn.Module):
    """A stand-in feature extractor: images in [−1, 1] -> (N, 6)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.randn(6, 3 * 4 * 4, generator=torch.Generator().manual_seed(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1) @ self.w.T


def _images(n: int, seed: int, shift: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, 16, 16, generator=g) * 2 - 1 + shift).clamp(-1, 1)


def test_quantise_rounds_to_uint8_values() -> None:
    x = torch.tensor([-1.0, -0.999, 0.0, 0.5, 1.0, 1.3])
    assert quantise(x).tolist() == [0.0, 0.0, 128.0, 191.0, 255.0, 255.0]


def test_fid_equals_clean_fid_compute_fid(tmp_path) -> None:
    extractor = Pooled()
    gen_images, ref_images = _images(40, 1, 0.3), _images(50, 2, 0.0)
    for i, im in enumerate(quantise(ref_images).to(torch.uint8).permute(0, 2, 3, 1).numpy()):
        Image.fromarray(im).save(tmp_path / f"{i:03d}.png")
    batches = list(gen_images.split(8))

    def stream():
        return iter(batches)

    ours = fid_from_statistics(
        feature_statistics(extractor, stream, 40, 8),
        feature_statistics(extractor, lambda: iter([ref_images]), 50, 8),
    )
    feat_fn, resize = clean_fid_extractor(extractor)
    it = iter(batches)
    theirs = cleanfid.compute_fid(
        gen=lambda z: quantise(next(it)), fdir2=str(tmp_path), num_gen=40, z_dim=1, batch_size=8,
        custom_feat_extractor=feat_fn, custom_fn_resize=resize, device=torch.device("cpu"), num_workers=0,
        verbose=False, use_dataparallel=False,
    )  # fmt: skip
    assert ours == pytest.approx(theirs, rel=1e-6)
    assert ours > 0.1


def test_feature_statistics_is_independent_of_the_batch_split() -> None:
    extractor = Pooled()
    images = _images(20, 3, 0.0)
    a = feature_statistics(extractor, lambda: iter(images.split(8)), 20, 8)
    b = feature_statistics(extractor, lambda: iter(images.split(3)), 20, 8)
    c = feature_statistics(extractor, lambda: iter(images.split(8)), 20, 6)
    for x in (b, c):
        np.testing.assert_allclose(a[0], x[0], rtol=1e-6)
        np.testing.assert_allclose(a[1], x[1], rtol=1e-6)


class TinyInception(torch.nn.Module):
    """A TorchScript network in the layout of clean-fid's Inception file (``layers``; 2 048 features)."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(12, 2048)
        )

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        return self.layers(x)


def test_paper_world_inception_goes_through_clean_fid_resize_and_network(tmp_path) -> None:
    from promptgen.models.inception import load_inception
    from promptgen.registry import ConfigError

    torch.manual_seed(0)
    path = tmp_path / "inception-2015-12-05.pt"
    torch.jit.script(TinyInception()).save(str(path))
    features = load_inception(str(path))
    feat_fn, resize = clean_fid_extractor(features)
    assert feat_fn is features.cleanfid_inception and resize is None  # clean-fid's "clean" PIL resize
    images = _images(6, 4, 0.0)
    mu, _, n = feature_statistics(features, lambda: iter([images]), 6, 3)
    # clean-fid's own path: PIL bicubic to 299 × 299, then (x − 128) / 128 into the network's layers.
    resized = np.stack(
        [cleanfid.build_resizer("clean")(im) for im in quantise(images).permute(0, 2, 3, 1).numpy()]
    )
    x = (torch.from_numpy(resized).permute(0, 3, 1, 2) - 128) / 128
    with torch.no_grad():
        expected = features.cleanfid_inception.base.layers(x).double().mean(0).numpy()
    assert n == 6 and mu.shape == (2048,)
    np.testing.assert_allclose(mu, expected, rtol=1e-5, atol=1e-6)
    (tmp_path / "other.pt").write_bytes(path.read_bytes())
    with pytest.raises(ConfigError, match="must be named inception-2015-12-05.pt"):
        load_inception(str(tmp_path / "other.pt"))
