"""The world renderer: contract, determinism, batch independence, differentiability, speed."""

from __future__ import annotations

import pytest
import torch

from promptgen.generators.base import build_generator, load_builtin_generators
from promptgen.rotations import euler_xyz_to_matrix
from promptgen.world.latent_map import FACTORS, WorldMap, get_world
from promptgen.world.pose import angles_to_rotation, rotation_to_angles
from promptgen.world.render import SynthRenderer


@pytest.fixture(scope="module")
def G() -> SynthRenderer:
    return SynthRenderer()


def test_registered_kind_builds_a_frozen_generator():
    load_builtin_generators()
    gen = build_generator({"kind": "synth-render", "latent_dim": 64, "seed": 0}, psi=0.7)
    x = gen(torch.randn(3, 64))
    assert gen.latent_dim == 64 and gen.resolution == 64 and gen.psi == 0.7
    assert x.shape == (3, 3, 64, 64) and x.min() >= -1 and x.max() <= 1


def test_deterministic_and_batch_independent(G: SynthRenderer):
    z = torch.randn(40, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = G(z)
        parts = torch.cat([G(z[:7]), G(z[7:])])
        again = SynthRenderer()(z)
    torch.testing.assert_close(full, parts, atol=1e-4, rtol=0)
    torch.testing.assert_close(full, again, atol=1e-4, rtol=0)


def test_world_depends_on_seed_and_entangles():
    a, b = WorldMap(64, seed=0), WorldMap(64, seed=1)
    z = torch.randn(8, 64)
    assert not torch.allclose(a(z), b(z))
    # every factor depends on many latent coordinates: no single coordinate controls an attribute
    jac = torch.autograd.functional.jacobian(lambda v: a(v[None])[0], torch.randn(64))
    share = jac.abs().max(1).values / jac.abs().sum(1)
    assert share.max() < 0.5, "a factor is dominated by one latent coordinate"
    assert jac.shape == (len(FACTORS), 64)


def test_too_small_latent_dim_is_a_clear_error():
    with pytest.raises(ValueError, match="latent_dim"):
        WorldMap(8)


def test_gradients_wrt_z_finite_and_nonzero(G: SynthRenderer):
    z = torch.randn(4, 64, requires_grad=True)
    x = G(z)
    (grad,) = torch.autograd.grad(x.square().mean(), z)
    assert torch.isfinite(grad).all() and (grad.norm(dim=1) > 0).all()


def test_truncation_pulls_towards_the_mean():
    world = get_world(64, 0)
    z = torch.randn(256, 64)
    assert world(z, 0.5).std() < world(z, 1.0).std()


def test_pose_convention_matches_rotations_module():
    a = torch.rand(10, 3) - 0.5
    r = angles_to_rotation(a[:, 0], a[:, 1], a[:, 2])
    torch.testing.assert_close(r, euler_xyz_to_matrix(a))
    torch.testing.assert_close(rotation_to_angles(r), a, atol=1e-5, rtol=0)
    # positive yaw turns the nose (+z) towards +x
    nose = angles_to_rotation(torch.tensor(0.0), torch.tensor(0.3), torch.tensor(0.0)) @ torch.tensor(
        [0.0, 0, 1]
    )
    assert nose[0] > 0


def test_pose_changes_the_image(G: SynthRenderer):
    scene = G.scene(torch.randn(1, 64).expand(2, -1))
    for key in ("yaw", "pitch", "roll"):
        x = G.render(scene.replace(**{key: torch.tensor([-0.4, 0.4])}))
        assert (x[0] - x[1]).abs().mean() > 0.02, key


def test_raycast_hits_the_unit_sphere_in_the_head_frame(G: SynthRenderer):
    """Inside the silhouette every pixel's head-frame point lies on the unit sphere."""
    scene = G.scene(torch.randn(8, 64, generator=torch.Generator().manual_seed(3)))
    sx, sy, sz, head = G.rasteriser._raycast(scene)
    inside = head[:, 0] > 0.99
    assert inside.float().mean() > 0.2
    radius = (sx * sx + sy * sy + sz * sz).sqrt()[inside]
    torch.testing.assert_close(radius, torch.ones_like(radius), atol=2e-3, rtol=0)


def test_renderer_benchmark_appends_rows_across_a_header_change(tmp_path):
    """An older CSV without the newest column keeps its rows, read with that column's documented default."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "world_renderer.py"
    spec = importlib.util.spec_from_file_location("world_renderer_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "r.csv"
    out.write_text("date,threads,images_per_s_best\n2026-11-23,1,4254.8\n")
    row = {"date": "2026-12-01", "threads": 2, "reuse_freed_memory": 1, "images_per_s_best": 9.0}
    bench._append(out, row)
    lines = out.read_text().splitlines()
    assert lines[0] == "date,threads,images_per_s_best,reuse_freed_memory"
    assert lines[1:] == ["2026-11-23,1,4254.8,0", "2026-12-01,2,9.0,1"]


def test_speed_rows_measure_every_core_and_one_thread(monkeypatch: pytest.MonkeyPatch):
    """The acceptance row runs at os.cpu_count() threads, an informational row at one; the caller's thread
    setting comes back."""
    import promptgen.world.metrics as metrics

    seen = []
    monkeypatch.setattr(
        metrics,
        "_render_rate",
        lambda G, z, repeats: seen.append(torch.get_num_threads()) or 100.0 * len(seen),
    )
    monkeypatch.setattr(metrics.os, "cpu_count", lambda: 3)
    before = torch.get_num_threads()
    rows = metrics.speed_rows(batch_size=4, repeats=1, min_rate=150.0)
    assert seen == [1, 3] and torch.get_num_threads() == before
    assert rows[0][0] == "renderer.images_per_s.batch4" and rows[0][1:] == (200.0, ">=150", True)
    assert rows[1] == ("renderer.images_per_s.batch4.threads1", 100.0, "", True)
