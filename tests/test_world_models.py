"""The world's shipped models: manifest, adapters through MODELS, quick held-out checks, clear errors.

The full acceptance figures come from ``python -m promptgen.world metrics``; full retraining is the slow
test at the end.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from promptgen.download import sha256_file as sha256
from promptgen.models import MODELS
from promptgen.registry import ConfigError
from promptgen.world import models  # noqa: F401  (registers the world kinds)
from promptgen.world.build import evaluate_models, load_models, train_models, training_rows
from promptgen.world.features import clean_fid_extractor
from promptgen.world.metrics import classifier_rows, held_out, pose_rows
from promptgen.world.train import ROLES

WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "world"


def test_training_time_is_the_two_core_schedule(tmp_path: Path):
    """VAE on one core, the rest one after another on the other: the threshold row is max(VAE, rest)."""
    (tmp_path / "vae").mkdir()
    (tmp_path / "MANIFEST.json").write_text(
        json.dumps({"files": {"a.pt": {"seconds": 300}, "b.pt": {"seconds": 400}}})
    )
    clip_vae = {"clip/c.pt": {"train_seconds": 200}, "vae/world-vae.pt": {"train_seconds": 1200}}
    (tmp_path / "MANIFEST-clip-vae.json").write_text(json.dumps({"files": clip_vae}))
    rows = {r[0]: r for r in training_rows(tmp_path, max_minutes=15)}
    assert rows["train_minutes.sum_over_models"][1] == pytest.approx(35)
    assert rows["train_minutes.all_world_models"][1:] == (pytest.approx(20), "<=15", False)
    clip_vae["vae/world-vae.pt"]["train_seconds"] = 600  # now the other core is the longer path: 900 s
    (tmp_path / "MANIFEST-clip-vae.json").write_text(json.dumps({"files": clip_vae}))
    rows = {r[0]: r for r in training_rows(tmp_path, max_minutes=15)}
    assert rows["train_minutes.all_world_models"][1:] == (pytest.approx(15), "<=15", True)
    # the StyleGAN2 trains as its own two-core job: its own row, outside the schedule
    sg2 = {"stylegan2/world-stylegan2.pt": {"seconds": 3000}}
    (tmp_path / "MANIFEST-stylegan2.json").write_text(json.dumps({"files": sg2}))
    rows = {r[0]: r for r in training_rows(tmp_path, max_minutes=15)}
    assert rows["train_minutes.all_world_models"][1:] == (pytest.approx(15), "<=15", True)
    assert rows["train_minutes.sum_over_models"][1] == pytest.approx(25)
    assert rows["train_minutes.stylegan2/world-stylegan2.pt"][1:] == (pytest.approx(50), "<=45", False)


@pytest.fixture(scope="module")
def adapters() -> dict[str, torch.nn.Module]:
    return load_models(WEIGHTS)


@pytest.fixture(scope="module")
def data():
    return held_out(n=300, seed=31_337)


def test_manifest_lists_every_shipped_weight_with_its_sha256():
    manifest = json.loads((WEIGHTS / "MANIFEST.json").read_text())["files"]
    for role in ROLES.values():
        entry = manifest[role.filename]
        assert entry["sha256"] == sha256(WEIGHTS / role.filename), role.filename
    total = sum(f.stat().st_size for f in WEIGHTS.rglob("*") if f.is_file())
    assert total <= 50 * 2**20


def test_classifiers_on_held_out_renders(adapters, data):
    for name in ("attributes-control", "attributes-eval", "categorical"):
        rows = classifier_rows(name, adapters[name], data, binary=0.95, cat=0.93)
        assert all(ok for *_, ok in rows), rows


def test_pose_regressor_returns_rotations(adapters, data):
    rot = adapters["pose"](data.images[:8])
    assert rot.shape == (8, 3, 3)
    torch.testing.assert_close(rot @ rot.transpose(-1, -2), torch.eye(3).expand(8, 3, 3), atol=1e-5, rtol=0)
    metric, median, _, ok = pose_rows(adapters["pose"], data, max_median_deg=7.0)[0]
    assert ok, f"{metric} = {median}"


def test_embedders_shapes_and_clean_fid_wrapper(adapters, data):
    assert adapters["identity"](data.images[:4]).shape == (4, 18)
    feats = adapters["features"](data.images[:4])
    assert feats.shape == (4, 128)
    fx = clean_fid_extractor(WEIGHTS / ROLES["features"].filename)
    x255 = (data.images[:4] + 1) * 127.5
    torch.testing.assert_close(fx(x255), feats, atol=1e-4, rtol=1e-4)
    assert fx.resize(np.zeros((64, 64, 3), np.uint8)).shape == (64, 64, 3)
    assert fx.resize(np.zeros((128, 128, 3), np.uint8)).shape == (64, 64, 3)


def test_adapters_resize_other_resolutions(adapters, data):
    big = torch.nn.functional.interpolate(data.images[:4], size=128, mode="bilinear")
    assert adapters["attributes-control"](big)["male"].shape == (4,)


@pytest.mark.parametrize("kind", ["world-classifier", "world-pose", "world-id", "world-features"])
def test_missing_or_malformed_checkpoint_is_a_one_line_error(tmp_path, kind):
    with pytest.raises(ConfigError, match="nope.pt") as err:
        MODELS.build({"kind": kind, "checkpoint": str(tmp_path / "nope.pt")})
    assert "\n" not in str(err.value)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(ConfigError, match="bad.pt"):
        MODELS.build({"kind": kind, "checkpoint": str(bad)})


@pytest.mark.parametrize("kind", ["world-classifier", "world-pose", "world-id", "world-features"])
def test_compiled_models_run_in_fixed_chunks_with_eager_outputs(recording_compile: list[int], kind):
    """``compile``: a batch up to one chunk runs at its own size, a longer one pads its last chunk; padding
    never changes an output (the recording backend runs the eager code, so outputs agree to rounding)."""
    from promptgen.world.nets import COMPILE_CHUNK

    role = {"world-classifier": "attributes-control", "world-pose": "pose", "world-id": "identity"}
    entry = {"kind": kind, "checkpoint": str(WEIGHTS / ROLES[role.get(kind, "features")].filename)}
    eager, compiled = MODELS.build(entry), MODELS.build({**entry, "compile": True})
    x = torch.rand(COMPILE_CHUNK + 5, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        for n in (3, len(x)):
            ref, out = eager(x[:n]), compiled(x[:n])
            ref, out = (ref, out) if isinstance(ref, dict) else ({"": ref}, {"": out})
            for k in ref:
                torch.testing.assert_close(out[k], ref[k], atol=1e-5, rtol=1e-5)
    assert recording_compile == [3, COMPILE_CHUNK, COMPILE_CHUNK]


def test_bad_compile_value_is_named():
    entry = {"kind": "world-classifier", "checkpoint": str(WEIGHTS / ROLES["attributes-control"].filename)}
    with pytest.raises(ConfigError, match="compile: expected true, false or auto, got 'yes'"):
        MODELS.build({**entry, "compile": "yes"}, where="models.control_classifier")


@pytest.mark.slow
def test_compiled_classifier_matches_eager_logits_and_input_gradients():
    """The real torch.compile path (a C++ compiler is needed; ≈ 15 s per gradient mode on a cold cache)."""
    from promptgen.device import compile_enabled

    if not compile_enabled("auto"):
        pytest.skip("no C++ compiler on the PATH for Inductor's CPU kernels")
    entry = {"kind": "world-classifier", "checkpoint": str(WEIGHTS / ROLES["attributes-control"].filename)}
    eager, compiled = MODELS.build(entry), MODELS.build({**entry, "compile": True})
    x = (torch.rand(70, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1).requires_grad_(True)
    with torch.no_grad():
        ref, out = eager(x), compiled(x)
    for k in ref:
        torch.testing.assert_close(out[k], ref[k], atol=1e-4, rtol=1e-4)
    (g_eager,) = torch.autograd.grad(eager(x)["male"].sum(), x)
    (g_comp,) = torch.autograd.grad(compiled(x)["male"].sum(), x)
    torch.testing.assert_close(g_comp, g_eager, atol=1e-5, rtol=1e-3)
    assert not compiled.net._compiled["_heads"].failed


def test_wrong_role_is_rejected():
    with pytest.raises(ConfigError, match="pose"):
        MODELS.build({"kind": "world-pose", "checkpoint": str(WEIGHTS / ROLES["identity"].filename)})


def test_training_smoke(tmp_path):
    train_models(tmp_path, ["attributes-control"], steps=2, log=None)
    assert (tmp_path / ROLES["attributes-control"].filename).is_file()
    assert "attributes_control.pt" in json.loads((tmp_path / "MANIFEST.json").read_text())["files"]


@pytest.mark.slow
def test_full_retraining_meets_every_threshold(tmp_path):
    train_models(tmp_path, log=None)
    rows = evaluate_models(tmp_path, speed=False, biases=False, log=None)
    failed = [r for r in rows if not r[3]]
    assert not failed, failed
