"""StyleGAN2 for training and editing: S- and W-space API, unfused modulated convolution, discriminator,
rosinality writer, and the world StyleGAN2's training loop and acceptance rows."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from promptgen.generators import build_generator
from promptgen.generators.stylegan2 import StyleGAN2Config, StyleGAN2Network
from promptgen.generators.stylegan2.discriminator import Discriminator, minibatch_stddev
from promptgen.generators.stylegan2.ops import fir_filter, modulated_conv2d
from promptgen.generators.stylegan2.rosinality import nvidia_to_rosinality, save_rosinality
from promptgen.methods import generator_provides

sys.path.insert(0, str(Path(__file__).parent))
from stylegan2_fixtures import TinySpec, random_state, write_rosinality  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = TinySpec()
    return write_rosinality(tmp_path_factory.mktemp("sg2") / "tiny.pt", random_state(spec, seed=0), spec)


@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("demodulate", [True, False])
def test_unfused_modulated_conv_equals_fused(up: int, demodulate: bool) -> None:
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(3, 5, 8, 8, generator=g), torch.randn(4, 5, 3, 3, generator=g)
    s = torch.rand(3, 5, generator=g) + 0.5
    args = {"demodulate": demodulate, "up": up, "f": fir_filter((1, 3, 3, 1))}
    fused = modulated_conv2d(x, w, s, **args)
    torch.testing.assert_close(modulated_conv2d(x, w, s, fused=False, **args), fused, atol=1e-5, rtol=1e-5)


def test_w_and_style_space_reproduce_the_generator(checkpoint: Path) -> None:
    gen = build_generator({"kind": "stylegan2", "checkpoint": str(checkpoint)}, psi=0.7)
    z = torch.randn(4, gen.latent_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = gen(z)
        w = gen.mapping(z)
        styles = gen.styles(w)
        torch.testing.assert_close(gen.synthesize_w(w), ref)
        torch.testing.assert_close(gen.synthesize_styles(styles), ref)
        edited = [s.clone() for s in styles]
        edited[0][:, 0] += 5.0
        assert not torch.allclose(gen.synthesize_styles(edited), ref)
    layout = gen.style_layers()
    assert [c for _, c in layout] == [s.shape[1] for s in styles]
    assert layout[0][0] == "b4.conv1" and layout[-1][0] == "b16.torgb"
    assert generator_provides({"generator": {"kind": "stylegan2"}}) == {"style_space", "w_space"}
    assert generator_provides({"generator": {"kind": "synth-render"}}) == frozenset()


def test_rosinality_writer_matches_the_reference_layout(tmp_path: Path) -> None:
    spec = TinySpec()
    state = random_state(spec, seed=2)
    with torch.serialization.safe_globals([argparse.Namespace]):
        ref = torch.load(write_rosinality(tmp_path / "ref.pt", state, spec), weights_only=True)
    ours, latent_avg = nvidia_to_rosinality(state)
    expected = {k: v for k, v in ref["g_ema"].items() if not k.endswith(("blur.kernel", "upsample.kernel"))}
    assert sorted(ours) == sorted(expected)
    for key, value in expected.items():
        assert torch.equal(ours[key], value), key
    assert torch.equal(latent_avg, state["mapping.w_avg"])
    net = StyleGAN2Network(StyleGAN2Config(img_resolution=16, z_dim=8, w_dim=8, channels={4: 8, 8: 8, 16: 4}))
    path = save_rosinality(tmp_path / "net.pt", net.state_dict(), {"note": "x"})
    loaded = build_generator({"kind": "stylegan2", "checkpoint": str(path)}, psi=1.0)
    z = torch.randn(2, 8)
    with torch.no_grad():
        torch.testing.assert_close(loaded(z), net(z).clamp(-1, 1))


def test_discriminator_shapes_and_minibatch_stddev() -> None:
    d = Discriminator(16, {16: 8, 8: 8, 4: 8})
    x = torch.randn(8, 3, 16, 16)
    assert d(x).shape == (8,)
    y = minibatch_stddev(torch.zeros(8, 2, 4, 4))
    assert y.shape == (8, 3, 4, 4) and float(y[:, 2].max()) < 1e-3
    with pytest.raises(ValueError, match="channels"):
        Discriminator(32, {16: 8, 8: 8, 4: 8})


def test_projection_discriminator_reads_the_labels() -> None:
    torch.manual_seed(0)
    d = Discriminator(16, {16: 8, 8: 8, 4: 8}, c_dim=2)
    x = torch.randn(4, 3, 16, 16)
    c = torch.tensor([[1.0, -1.0]]).expand(4, -1)
    assert d(x, c).shape == (4,)
    assert not torch.allclose(d(x, c), d(x, -c))  # the same images score differently under other labels
    for bad in (None, torch.ones(4, 3)):
        with pytest.raises(ValueError, match=r"labels of shape \(N, 2\)"):
            d(x, bad)
    with pytest.raises(ValueError, match="labels of shape"):
        Discriminator(16, {16: 8, 8: 8, 4: 8})(x, c)


def _tiny_world_gan(**overrides):
    """A world StyleGAN2 config small enough to train a few steps in a test (64 px: the renderer's size)."""
    from promptgen.world.train_stylegan2 import StyleGAN2TrainConfig

    channels = ((4, 8), (8, 8), (16, 8), (32, 8), (64, 4))
    return StyleGAN2TrainConfig(w_dim=16, mapping_layers=2, channels=channels, batch_size=4, **overrides)


def test_label_conditioned_training_pairs_each_latent_with_its_oracle_labels(tmp_path: Path) -> None:
    from promptgen.world.groundtruth import oracle
    from promptgen.world.train_stylegan2 import StyleGAN2TrainConfig, _labels, train_stylegan2

    labels = ("eyeglasses", "male")
    cfg = _tiny_world_gan(
        steps=2, r1_interval=1, distill_weight=0.0, distill_only_steps=0, condition_labels=labels
    )
    z = torch.randn(6, 64)
    truth = oracle(z)
    c = _labels(cfg, z)
    assert torch.equal(c, torch.stack([truth["eyeglasses"], truth["male"]], 1).float() * 2 - 1)
    assert _labels(dataclasses.replace(cfg, condition_labels=()), z) is None
    info = train_stylegan2(cfg, tmp_path / "c.pt")
    assert {"g", "d", "r1"} <= set(info["losses"]) and all(map(math.isfinite, info["losses"].values()))
    saved = torch.load(tmp_path / "c.pt", weights_only=True)["train_config"]
    assert tuple(saved["condition_labels"]) == ("eyeglasses", "male")
    with pytest.raises(ValueError, match="condition_labels: unknown label 'glasses'"):
        StyleGAN2TrainConfig(condition_labels=("glasses",))


def test_world_stylegan2_trains_saves_and_loads(tmp_path: Path) -> None:
    from promptgen.world.train_stylegan2 import StyleGAN2TrainConfig, train_stylegan2

    cfg = _tiny_world_gan(steps=3, r1_interval=2, distill_weight=1.0, distill_only_steps=1)
    seen = []
    info = train_stylegan2(cfg, tmp_path / "g.pt", lambda step, losses: seen.append(dict(losses)), 2)
    assert seen == [{"distill": seen[0]["distill"], "g": seen[0]["g"]}]  # step 0: the distillation alone
    assert info["steps"] == 3 and info["cpu_seconds"] > 0
    assert {"distill", "g", "d", "r1"} <= set(info["losses"])  # steps 1-2: GAN, distillation, lazy R1
    gen = build_generator({"kind": "stylegan2", "checkpoint": str(tmp_path / "g.pt")}, psi=0.7)
    img = gen(gen.sample_latent(3))
    assert img.shape == (3, 3, 64, 64) and float(img.abs().max()) <= 1.0
    with pytest.raises(ValueError, match="z_dim == latent_dim"):
        StyleGAN2TrainConfig(z_dim=8, steps=1)
    # The step-2 snapshot is what a 2-step run saves: steps can be chosen from one run's snapshots.
    assert sorted(p.name for p in tmp_path.glob("g.pt.step*")) == ["g.pt.step2.pt"]
    train_stylegan2(dataclasses.replace(cfg, steps=2), tmp_path / "short.pt")
    snap = torch.load(tmp_path / "g.pt.step2.pt", weights_only=True)["g_ema"]
    short = torch.load(tmp_path / "short.pt", weights_only=True)["g_ema"]
    assert snap.keys() == short.keys() and all(torch.equal(snap[k], short[k]) for k in snap)
    # init: G and g_ema start from a checkpoint (0 steps: the weights come back unchanged).
    train_stylegan2(dataclasses.replace(cfg, steps=0), tmp_path / "again.pt", init=tmp_path / "short.pt")
    again = torch.load(tmp_path / "again.pt", weights_only=True)["g_ema"]
    assert all(torch.equal(again[k], short[k]) for k in short)


def test_oracle_agreement_rows_of_the_renderer_itself() -> None:
    """Handed the renderer as the generator, the rows are the evaluation classifier's accuracy twice, and
    every head's recall is far above its false-positive rate (the call follows z's label)."""
    from promptgen.models import MODELS
    from promptgen.world import models  # noqa: F401  (registers the world adapter kinds)
    from promptgen.world.render import SynthRenderer
    from promptgen.world.train_stylegan2 import oracle_agreement_rows

    weights = Path(__file__).resolve().parents[1] / "weights" / "world" / "attributes_eval.pt"
    classifier = MODELS.build({"kind": "world-classifier", "checkpoint": str(weights)}).eval()
    rows = dict((m, v) for m, v, *_ in oracle_agreement_rows(SynthRenderer(64, 64), classifier, 0, 400, 0))
    for head in ("male", "eyeglasses", "blond", "young"):
        for stat in ("agreement", "recall", "false_positive"):
            own = rows[f"stylegan2.approx_oracle_{stat}.render.{head}"]
            assert rows[f"stylegan2.approx_oracle_{stat}.stylegan2.{head}"] == own
        assert rows[f"stylegan2.approx_oracle_agreement.render.{head}"] > 0.85
        recall = rows[f"stylegan2.approx_oracle_recall.render.{head}"]
        assert recall - rows[f"stylegan2.approx_oracle_false_positive.render.{head}"] > 0.6


def test_shipped_weights_follow_the_default_recipe() -> None:
    """The shipped world StyleGAN2 was trained with today's defaults (retrain it when a default changes)."""
    from promptgen.world.train_stylegan2 import StyleGAN2TrainConfig

    def frozen(value):
        return tuple(map(frozen, value)) if isinstance(value, (list, tuple)) else value

    shipped = Path(__file__).resolve().parents[1] / "weights/world/stylegan2/world-stylegan2.pt"
    saved = torch.load(shipped, weights_only=True)["train_config"]
    assert {k: frozen(v) for k, v in saved.items()} == dataclasses.asdict(StyleGAN2TrainConfig())
