"""The world renderer: contract, determinism, batch independence, differentiability, speed."""

from __future__ import annotations

import pytest
import torch

from promptgen.generators.base import build_generator, load_builtin_generators
from promptgen.rotations import axis_rotation, euler_xyz_to_matrix
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


def test_renders_in_float32_inside_a_bf16_autocast_region(G: SynthRenderer):
    z = torch.randn(5, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        plain = G(z)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = G(z)
    assert mixed.dtype == torch.float32 and torch.equal(mixed, plain)


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
    # The world's convention R_z(roll) R_y(yaw) R_x(pitch); the pose energy's "XYZ" is R_x R_y R_z.
    torch.testing.assert_close(
        r, axis_rotation(a[:, 2], 2) @ axis_rotation(a[:, 1], 1) @ axis_rotation(a[:, 0], 0)
    )
    assert not torch.allclose(r, euler_xyz_to_matrix(a))
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


def _benchmark(name: str):
    """Import the script benchmarks/<name>.py (the folder is not a package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_renderer_benchmark_appends_rows_across_a_header_change(tmp_path):
    """An older CSV without the newest column keeps its rows, read with that column's documented default."""
    bench = _benchmark("world_renderer")
    out = tmp_path / "r.csv"
    out.write_text("date,threads,images_per_s_best\n2026-11-23,1,4254.8\n")
    row = {"date": "2026-12-01", "threads": 2, "reuse_freed_memory": 1, "images_per_s_best": 9.0}
    bench.append_row(out, row, bench._OLD_DEFAULTS)
    lines = out.read_text().splitlines()
    assert lines[0] == "date,threads,images_per_s_best,reuse_freed_memory"
    assert lines[1:] == ["2026-11-23,1,4254.8,0", "2026-12-01,2,9.0,1"]
    # the next column: both older rows read its default, 0
    bench.append_row(out, {**row, "compile": 1}, bench._OLD_DEFAULTS)
    lines = out.read_text().splitlines()
    assert lines[0] == "date,threads,images_per_s_best,reuse_freed_memory,compile"
    assert lines[1:] == ["2026-11-23,1,4254.8,0,0", "2026-12-01,2,9.0,1,0", "2026-12-01,2,9.0,1,1"]


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


def test_compile_setting_is_validated_and_auto_follows_the_compiler(monkeypatch: pytest.MonkeyPatch):
    from promptgen.device import compile_enabled
    from promptgen.registry import ConfigError

    with pytest.raises(ConfigError, match="generator.compile: expected true, false or auto, got 'yes'"):
        SynthRenderer(compile="yes")
    with pytest.raises(ConfigError, match="got 1"):
        compile_enabled(1)
    assert compile_enabled(True) and not compile_enabled(False)
    monkeypatch.setenv("CXX", "no-such-compiler-here")
    assert not compile_enabled("auto") and not SynthRenderer(compile="auto").rasteriser.compile
    monkeypatch.setenv("CXX", "sh")  # any executable on the PATH stands for a compiler
    assert compile_enabled("auto")


def test_compile_failure_falls_back_to_eager_once(monkeypatch: pytest.MonkeyPatch, caplog, G: SynthRenderer):
    """A backend that cannot build kernels (no compiler) costs one warning; the images are the eager ones,
    also for a batch that is not a multiple of the chunk (the compiled path pads the last chunk)."""
    import copy

    import promptgen.device as device

    calls = []

    def broken_compile(fn, **kwargs):
        def run(*args):
            calls.append(1)
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")

        return run

    monkeypatch.setattr(device.torch, "compile", broken_compile)
    gen = SynthRenderer(compile=True)
    z = torch.randn(37, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref, ref_small = G(z), G(z[:5])  # eager, each at its own batch size (BLAS may block by size)
        with caplog.at_level("WARNING", logger="promptgen.device"):
            first, second = gen(z), gen(z[:5])
    torch.testing.assert_close(first, ref, atol=0, rtol=0)
    torch.testing.assert_close(second, ref_small, atol=0, rtol=0)
    assert len(calls) == 1 and gen.rasteriser._compiled[True].failed
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    reason = "InvalidCxxCompiler: No working C++ compiler found"
    assert warnings == [f"the renderer (synth-render): torch.compile failed ({reason}); running eagerly"]
    assert copy.deepcopy(gen).rasteriser._compiled is None  # compiled code is never copied


def test_compiled_path_pads_only_a_short_last_chunk(recording_compile: list[int], G: SynthRenderer):
    """A batch up to one chunk renders as it is (a training batch of 2 is not padded to 32 images); a longer
    batch pads its last chunk to the chunk size, so it runs at one compiled shape."""
    gen = SynthRenderer(compile=True)
    c = gen.rasteriser.style.chunk
    z = torch.randn(c + 5, 64, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ref = G(z)
        for n in (2, c + 5):
            torch.testing.assert_close(gen(z[:n]), ref[:n], atol=1e-5, rtol=0)  # eager, any batch
    assert recording_compile == [2, c, c]


def test_compile_does_not_hide_errors_of_the_input(monkeypatch: pytest.MonkeyPatch):
    """An input the renderer cannot draw fails with the eager code's own error; no fallback is recorded."""
    import dataclasses

    import promptgen.device as device

    def failing_backend(fn, **kwargs):
        def run(*args):
            raise RuntimeError("backend: tracing failed")

        return run

    monkeypatch.setattr(device.torch, "compile", failing_backend)
    gen = SynthRenderer(compile=True)
    scene = gen.scene(torch.randn(4, 64))
    bad = dataclasses.replace(scene, skin=scene.skin[:, :2])  # two colour channels instead of three
    with pytest.raises(RuntimeError, match="size of tensor"):
        gen.render(bad)
    assert not gen.rasteriser._compiled[True].failed
    with torch.no_grad():
        assert gen.render(scene).shape == (4, 3, 64, 64)
    assert gen.rasteriser._compiled[True].failed


@pytest.mark.slow
def test_compiled_renderer_matches_eager_images_and_gradients(G: SynthRenderer):
    """The real torch.compile path (a C++ compiler is needed; ≈ 40 s per gradient mode on a cold cache)."""
    from promptgen.device import compile_enabled

    if not compile_enabled("auto"):
        pytest.skip("no C++ compiler on the PATH for Inductor's CPU kernels")
    gen = SynthRenderer(compile=True)
    z = torch.randn(37, 64, generator=torch.Generator().manual_seed(4), requires_grad=True)
    with torch.no_grad():
        torch.testing.assert_close(gen(z), G(z), atol=1e-4, rtol=0)
    (g_eager,) = torch.autograd.grad(G(z).square().sum(), z)
    (g_comp,) = torch.autograd.grad(gen(z).square().sum(), z)
    assert not gen.rasteriser._compiled[True].failed
    assert ((g_comp - g_eager).norm() / g_eager.norm()).item() < 1e-4


def test_train_step_benchmark_measures_both_precisions(tmp_path):
    """benchmarks/train_step.py times real Table-2 VAE steps in float32 and bfloat16 and appends a row."""
    import csv

    from click.testing import CliRunner

    bench = _benchmark("train_step")
    out = tmp_path / "t.csv"
    args = ["--generator", "vae", "--steps", "3", "--warmup", "1", "--out", str(out)]
    result = CliRunner().invoke(bench.main, args)
    assert result.exit_code == 0, result.output
    (row,) = list(csv.DictReader(out.open()))
    assert row["generator"] == "vae" and row["steps_timed"] == "2"
    assert float(row["fp32_s_per_step"]) > 0 and float(row["bf16_s_per_step"]) > 0
    bad = CliRunner().invoke(bench.main, ["--generator", "nope", "--steps", "2", "--warmup", "0"])
    assert bad.exit_code != 0 and "no generator 'nope'" in bad.output


def test_world_models_benchmark_times_eager_and_compiled_calls(tmp_path, recording_compile: list[int]):
    """The compiled model is the config's entry with ``compile: true`` (eager kernels here, recorded): the
    benchmark times both, compares their outputs and appends one row per case."""
    import csv

    from click.testing import CliRunner

    bench = _benchmark("world_models")
    out = tmp_path / "models.csv"
    args = ["--case", "classifier_forward", "--case", "vae_train", "--repeats", "1", "--warmup", "0"]
    result = CliRunner().invoke(bench.main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["case"] for r in rows] == ["classifier_forward", "vae_train"]
    assert [r["batch"] for r in rows] == ["256", "64"]
    for row in rows:
        assert float(row["eager_s"]) > 0 and float(row["compiled_s"]) > 0
        assert float(row["max_abs_diff"]) < 1e-3  # the same model, chunked
    assert recording_compile == [64] * 4 + [64]  # 256 images in four chunks, then one training batch
    bad = CliRunner().invoke(bench.main, ["--case", "nope"])
    assert bad.exit_code != 0 and "nope" in bad.output
