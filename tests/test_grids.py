"""eval.grids: every method of a grid row draws from the same per-sample seeds; the PNG shows every image."""

from pathlib import Path

import matplotlib.image
import pytest
import snakemake.utils
import torch
import yaml

from eval.grids import (
    FAILED_GREY,
    Grid,
    draw_grid,
    iteration_grid,
    render,
    table2_grid,
    table2_requests,
    table3_grid,
)
from eval.specs import generator_section
from eval.table2 import _load_pool, _Setup, judge_pool
from promptgen.checkpoint import save_inn
from promptgen.conditions import encode_partial
from promptgen.energies import ModelCache
from promptgen.flows import INN
from promptgen.registry import ConfigError
from promptgen.sample import per_sample_normal
from tests.plugins.user_generator import make_generator

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def generator():
    return make_generator(latent_dim=6, resolution=8, seed=1)


def _inn(tmp_path, name: str, cond_dim: int = 0) -> tuple[INN, str]:
    inn = INN(6, cond_dim=cond_dim, blocks=2, hidden=8, seed=3).eval()
    path = tmp_path / f"{name}.pt"
    save_inn(inn, path, {"generator": {}})
    return inn, str(path)


@pytest.fixture(scope="module")
def tiny_t2(tmp_path_factory) -> tuple[dict, dict, Path]:
    """The tiny config's Table-2 section (with a method that raises) and the judged pool of seed 3."""
    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    snakemake.utils.validate(cfg, str(ROOT / "workflow/schemas/config.schema.yaml"))
    t2 = generator_section(cfg["table2"], "", "table2")
    t2["methods"] = {
        **t2["methods"],
        "broken": {"kind": "python", "python": "tests.plugins.methods:make_broken"},
    }
    path = tmp_path_factory.mktemp("t2") / "pool.pt"
    judge_pool("user", cfg["generators"]["user"], t2, cfg["models"], path, device="cpu", seed=3)
    return cfg, t2, path


def test_table2_grid_samples_every_method_as_table2_does(tmp_path, tiny_t2, generator) -> None:
    cfg, t2, pool_path = tiny_t2
    k = len(t2["attributes"])
    fit = tmp_path / "fit/promptgen"
    fit.mkdir(parents=True)
    inn, _ = _inn(fit, "inn", cond_dim=2 * k)
    (fit / "status.json").write_text('{"status": "ok"}')
    methods = ["unmodified", "direction", "resample", "promptgen", "broken"]
    kw = {"pool_path": pool_path, "samples": 2, "seed": 3, "methods": methods, "device": "cpu"}
    grid = table2_grid("user", cfg["generators"]["user"], t2, cfg["models"], fits={"promptgen": fit}, **kw)
    assert grid.images.shape == (16, 10, 3, 8, 8)  # 2⁴ combinations × (5 methods × 2 samples)
    assert grid.rows[1] == "not male, not eyeglasses, not blond, young"
    assert [b.split("\n")[0] for b, _ in grid.blocks] == methods
    assert grid.blocks[-1][0].startswith("broken\nfailed: ") and "LinAlgError" in grid.blocks[-1][0]
    assert (grid.images[:, 8:] == FAILED_GREY).all()  # the failed method's block is blank

    # each block is the method's own draws for the requests, rendered: row r, column j is request 2r + j
    requests = table2_requests(t2["attributes"], 2)[0]["joint"]
    setup = _Setup("user", cfg["generators"]["user"], t2, cfg["models"], "cpu")
    pool = _load_pool(pool_path)[0]
    ctx = setup.context(3, tmp_path, pool)
    eps = per_sample_normal(3, range(32), 6)
    with torch.no_grad():
        expected = {
            "unmodified": render(generator, eps),  # the pool's rows 0..31, seeded by (3, i)
            "direction": render(generator, setup.method("direction").sample(ctx, requests, 3).z),
            "resample": render(
                generator, pool.z[setup.method("resample").sample(ctx, requests, 3).pool_index]
            ),
            "promptgen": render(generator, inn(eps, encode_partial(requests))[0]),
        }
    for b, (name, images) in enumerate(expected.items()):
        got = grid.images[:, 2 * b : 2 * b + 2].reshape(32, 3, 8, 8)
        torch.testing.assert_close(got, images, atol=1e-5, rtol=0, msg=name)
    assert not torch.allclose(expected["direction"], expected["unmodified"])

    # a training method without its training stage's output: a blank block naming the missing file
    missing = table2_grid("user", cfg["generators"]["user"], t2, cfg["models"], fits={}, **kw)
    label = missing.blocks[3][0]
    assert label.startswith("promptgen\nfailed:") and "status.json missing" in label.replace("\n", "")
    assert (missing.images[:, 6:8] == FAILED_GREY).all()
    torch.testing.assert_close(missing.images[:, :6], grid.images[:, :6])

    # column requests: one sample call per column, its rows restarting at request 0
    kw |= {"methods": ["unmodified", "promptgen"], "task": "columns"}
    cols = table2_grid("user", cfg["generators"]["user"], t2, cfg["models"], fits={"promptgen": fit}, **kw)
    assert cols.images.shape == (18, 4, 3, 8, 8) and cols.rows[6] == "age_gender: not male, not young"
    age_gender = table2_requests(t2["attributes"], 2, "columns")[0]["age_gender"]
    with torch.no_grad():
        z = inn(eps[:8], encode_partial(age_gender))[0]
    torch.testing.assert_close(
        cols.images[6:10, 2:].reshape(8, 3, 8, 8), render(generator, z), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(cols.images[6:10, :2].reshape(8, 3, 8, 8), render(generator, eps[:8]))


def test_table2_requests_per_column_leave_the_others_free() -> None:
    requests, labels = table2_requests(["male", "eyeglasses", "blond", "young"], 3, "columns")
    assert list(requests) == [
        "gender",
        "eyeglasses",
        "blond",
        "age_gender",
        "age_eyeglasses",
        "gender_eyeglasses",
    ]
    assert len(labels) == 2 + 2 + 2 + 4 + 4 + 4 and labels[7] == "age_gender: male, not young"
    assert requests["age_gender"][3:6].tolist() == [[1.0, -1.0, -1.0, 0.0]] * 3
    with pytest.raises(ConfigError, match="grids.table2_requests"):
        table2_requests(["male"], 1, "pairs")


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


def test_table4_grid_runs_ppgm_at_the_step_size_table4_chose(tmp_path, generator) -> None:
    """Each PPGM block uses the η of its (text, n) from the Table-4 CSV; the file's other rows are ignored."""
    from eval.grids import draw_table4, table4_grid

    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    _, path = _inn(tmp_path, "text0")
    scores = tmp_path / "table4.csv"
    scores.write_text(
        "method,text,ppgm_step_size\nPromptGen,a photo of a baby,\n"
        "PPGM (n=2),a photo of a baby,0.05\nPPGM (n=3),a photo of a baby,0.2\n"
    )
    clip = ModelCache("cpu").get(cfg["models"]["clip"], "models.clip")
    settings = cfg["table4"]["clip"]
    eta = {("a photo of a baby", 2): 0.05, ("a photo of a baby", 3): 0.2}
    kw = {"ppgm_steps": [2, 3], "samples": 2, "seed": 1}
    torch.manual_seed(0)  # DiffAugment draws from the global generator
    grid = table4_grid(generator, clip, {"a photo of a baby": path}, settings, step_sizes=eta, **kw)
    torch.manual_seed(0)
    other = table4_grid(
        generator,
        clip,
        {"a photo of a baby": path},
        settings,
        step_sizes={**eta, ("a photo of a baby", 3): 0.01},
        **kw,
    )
    assert torch.equal(grid.images[0, :4], other.images[0, :4])  # the generator and PPGM n = 2
    assert not torch.equal(grid.images[0, 4:6], other.images[0, 4:6])  # PPGM n = 3 at another η
    gen_cfg = {
        "generator": {
            "kind": "python",
            "python": "tests.plugins.user_generator:make_generator",
            "kwargs": {"latent_dim": 6, "resolution": 8, "seed": 1},
        },
        "psi_train": 1.0,
        "psi_eval": 1.0,
    }
    t4 = {**cfg["table4"], "ppgm_steps": [2, 3]}
    out = draw_table4(
        gen_cfg,
        cfg["models"]["clip"],
        t4,
        [path],
        scores,
        {"samples": 2, "seed": 1},
        tmp_path / "g.png",
        "cpu",
    )
    assert out.is_file()
