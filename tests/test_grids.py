"""eval.grids: every method of a grid row draws from the same per-sample seeds; the PNG shows every image."""

import matplotlib.image
import pytest
import torch

from eval.grids import Grid, draw_grid, iteration_grid, render, table2_grid, table3_grid
from promptgen.checkpoint import save_inn
from promptgen.flows import INN
from promptgen.sample import per_sample_normal
from tests.plugins.user_classifier import make_classifier
from tests.plugins.user_generator import make_generator

HEADS = ["male", "eyeglasses"]


@pytest.fixture
def generator():
    return make_generator(latent_dim=6, resolution=8, seed=1)


def _inn(tmp_path, name: str, cond_dim: int = 0) -> tuple[INN, str]:
    inn = INN(6, cond_dim=cond_dim, blocks=2, hidden=8, seed=3).eval()
    path = tmp_path / f"{name}.pt"
    save_inn(inn, path, {"generator": {}})
    return inn, str(path)


def test_table2_grid_shares_seeds_across_methods(tmp_path, generator) -> None:
    inn, path = _inn(tmp_path, "t2", cond_dim=len(HEADS))
    control = make_classifier(HEADS, seed=0)
    grid = table2_grid(
        generator, control, path, HEADS, weight=10.0, samples=3, pool=200, fit_samples=100, seed=5
    )
    assert grid.images.shape == (4, 12, 3, 8, 8)  # 2² combinations × (4 methods × 3 samples)
    assert grid.rows[1] == "not male, eyeglasses" and [b for b, _ in grid.blocks][-1] == "PromptGen"
    row, col = 1, 2  # sample index i = row · 3 + col under every method
    eps = per_sample_normal(5, [row * 3 + col], 6)
    assert torch.allclose(grid.images[row, col], render(generator, eps)[0])
    with torch.no_grad():
        z = inn(eps, torch.tensor([[0.0, 1.0]]))[0]
    assert torch.allclose(grid.images[row, 9 + col], render(generator, z)[0], atol=1e-6)


def test_iteration_and_pose_grids_apply_each_stage_to_the_same_eps(tmp_path, generator) -> None:
    inn, path = _inn(tmp_path, "f")
    grid = iteration_grid(generator, {"G": [], "G∘f": [path], "G∘f∘f": [path, path]}, samples=4, seed=2)
    eps = per_sample_normal(2, range(4), 6)
    with torch.no_grad():
        assert torch.allclose(grid.images[0], render(generator, eps))
        assert torch.allclose(grid.images[1], render(generator, inn(eps)[0]), atol=1e-6)
        assert torch.allclose(grid.images[2], render(generator, inn(inn(eps)[0])[0]), atol=1e-5)
    _, pose_path = _inn(tmp_path, "pose", cond_dim=2)
    poses = table3_grid(generator, pose_path, 0.3, identities=2, per_axis=3, seed=0)
    assert poses.images.shape == (2, 9, 3, 8, 8) and len(poses.blocks) == 9


def test_draw_grid_writes_every_image_and_checks_the_blocks(tmp_path) -> None:
    images = torch.linspace(-1, 1, 2 * 3 * 3 * 16 * 16).reshape(2, 3, 3, 16, 16)
    path = draw_grid(Grid(images, ["a", "b"], [("x", 1), ("y", 2)], "title"), tmp_path / "g.png")
    assert matplotlib.image.imread(path).shape[2] in (3, 4)
    with pytest.raises(ValueError, match="do not cover"):
        draw_grid(Grid(images, ["a", "b"], [("x", 1)]), tmp_path / "bad.png")
