"""The world dataset: written once, seeded per sample, loaded with clear errors."""

from __future__ import annotations

import pytest
import torch

from promptgen.world.dataset import build_dataset, load_dataset, per_sample_latents


def test_build_and_load(tmp_path):
    path = tmp_path / "d.pt"
    built = build_dataset(path, n=24, seed=3, batch_size=10)
    data = load_dataset(path)
    assert data.images.dtype == torch.uint8 and data.images.shape == (24, 3, 64, 64)
    assert data.z.shape == (24, 64)
    for key in (
        "male",
        "eyeglasses",
        "blond",
        "young",
        "old",
        "makeup",
        "tone",
        "age_group",
        "yaw",
        "identity",
    ):
        assert len(data.labels[key]) == 24, key
    assert torch.equal(data.images, built.images)
    assert len(data.captions) in (0, 24)
    assert data.float_images().min() >= -1


def test_sample_i_depends_only_on_seed_and_i():
    a = per_sample_latents(5, 0, 10, 64)
    b = per_sample_latents(5, 6, 4, 64)
    torch.testing.assert_close(a[6:], b)
    assert not torch.allclose(per_sample_latents(6, 0, 10, 64), a)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_dataset(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a dataset")
    with pytest.raises(ValueError, match="bad.pt"):
        load_dataset(bad)
