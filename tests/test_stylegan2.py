"""StyleGAN2 generator kind: network maths, NVIDIA .pkl and rosinality .pt loaders, refusals, safety."""

from __future__ import annotations

import pickle
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml

from promptgen.generators import build_generator
from promptgen.generators.stylegan2 import CheckpointError, StyleGAN2Config, StyleGAN2Network, load_stylegan2
from promptgen.generators.stylegan2.ops import upsample_image
from promptgen.registry import ConfigError

sys.path.insert(0, str(Path(__file__).parent))
from stylegan2_fixtures import (  # noqa: E402
    TinySpec,
    evil_payload,
    nvidia_generator_meta,
    random_state,
    reference_forward,
    write_nvidia_pickle,
    write_rosinality,
)

ROOT = Path(__file__).resolve().parents[1]
ATOL = 1e-4  # float32 network vs float64 reference, on outputs of magnitude ~10

# From NVIDIA's own training/networks.py (stylegan2-ada-pytorch d72cc7d), CPU, float32, run once on
# random_state(spec, seed=3)
# with TinySpec(channels={4: 16, 8: 16, 16: 8}, conv_clamp=2.0), z from seed 7, noise_mode='const':
# img[(0,0,0,0)], img[(0,1,5,7)], img[(1,2,15,15)], img[(1,0,8,3)], img.mean().
NVIDIA_GOLDEN = {
    (1.0, None): [1.00104, 1.393174, 0.831049, 1.333657, 1.399385],
    (0.6, 3): [0.811499, 2.17877, 0.965282, 1.213985, 1.549187],
}
GOLDEN_INDEX = [(0, 0, 0, 0), (0, 1, 5, 7), (1, 2, 15, 15), (1, 0, 8, 3)]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Run on one thread: tiny tensors gain nothing from more, and a busy 2-core box spins on them."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def spec() -> TinySpec:
    return TinySpec()


@pytest.fixture(scope="module")
def state(spec: TinySpec) -> dict[str, torch.Tensor]:
    return random_state(spec, seed=0)


@pytest.fixture(scope="module")
def nvidia_pkl(tmp_path_factory: pytest.TempPathFactory, spec: TinySpec, state: dict) -> Path:
    path = tmp_path_factory.mktemp("sg2") / "tiny.pkl"
    return write_nvidia_pickle(path, nvidia_generator_meta(state, spec))


@pytest.fixture(scope="module")
def rosinality_pt(tmp_path_factory: pytest.TempPathFactory, spec: TinySpec, state: dict) -> Path:
    return write_rosinality(tmp_path_factory.mktemp("sg2") / "tiny.pt", state, spec)


def _z(n: int, dim: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------- maths


@pytest.mark.parametrize("psi", [1.0, 0.7, 0.0])
@pytest.mark.parametrize("clamp", [None, 2.0])
def test_nvidia_pickle_matches_reference(tmp_path: Path, psi: float, clamp: float | None) -> None:
    spec = TinySpec(conv_clamp=clamp)
    state = random_state(spec, seed=2)
    net = load_stylegan2(write_nvidia_pickle(tmp_path / "g.pkl", nvidia_generator_meta(state, spec)))
    z = _z(3, spec.z_dim)
    torch.testing.assert_close(
        net(z, psi).double(), reference_forward(state, spec, z, psi), atol=ATOL, rtol=0
    )
    out = net(z, psi, noise_mode="none").double()
    torch.testing.assert_close(out, reference_forward(state, spec, z, psi, noise=False), atol=ATOL, rtol=0)


def test_rosinality_matches_reference_and_pickle(nvidia_pkl: Path, rosinality_pt: Path, spec, state) -> None:
    ros, nv = load_stylegan2(rosinality_pt), load_stylegan2(nvidia_pkl)
    z = _z(2, spec.z_dim)
    torch.testing.assert_close(
        ros(z, 0.7).double(), reference_forward(state, spec, z, 0.7), atol=ATOL, rtol=0
    )
    torch.testing.assert_close(ros(z, 0.7), nv(z, 0.7))
    assert ros.cfg.block_channels() == nv.cfg.block_channels() == spec.channels


@pytest.mark.parametrize("psi,cutoff", list(NVIDIA_GOLDEN))
def test_golden_values_from_nvidia_code(tmp_path: Path, psi: float, cutoff: int | None) -> None:
    spec = TinySpec(channels={4: 16, 8: 16, 16: 8}, conv_clamp=2.0)
    path = write_nvidia_pickle(tmp_path / "g.pkl", nvidia_generator_meta(random_state(spec, seed=3), spec))
    img = load_stylegan2(path)(_z(2, 16, seed=7), psi, truncation_cutoff=cutoff)
    got = [img[i].item() for i in GOLDEN_INDEX] + [img.mean().item()]
    assert got == pytest.approx(NVIDIA_GOLDEN[(psi, cutoff)], abs=1e-5)


def test_float64_agrees_with_float32(nvidia_pkl: Path, spec: TinySpec) -> None:
    net = load_stylegan2(nvidia_pkl)
    z = _z(2, spec.z_dim)
    out32 = net(z, 0.7)
    out64 = net.double()(z.double(), 0.7)
    assert out64.dtype == torch.float64
    assert ((out32.double() - out64).abs().max() / out64.abs().max()).item() < 1e-4


def test_const_noise_is_deterministic_and_random_noise_is_seeded(nvidia_pkl: Path, spec: TinySpec) -> None:
    net = load_stylegan2(nvidia_pkl)
    z = _z(3, spec.z_dim)
    assert torch.equal(net(z, noise_mode="const"), net(z, noise_mode="const"))
    gens = [torch.Generator().manual_seed(i) for i in range(3)]
    a = net(z, noise_mode="random", rng=gens)
    gens = [torch.Generator().manual_seed(i) for i in range(3)]
    b = net(z[1:2], noise_mode="random", rng=gens[1:2])  # sample 1 alone: same noise as in the batch
    torch.testing.assert_close(a[1:2], b)
    assert not torch.allclose(a, net(z, noise_mode="const"))


def test_truncation_zero_gives_the_average_image(nvidia_pkl: Path, spec: TinySpec) -> None:
    img = load_stylegan2(nvidia_pkl)(_z(2, spec.z_dim), psi=0.0)
    torch.testing.assert_close(img[0], img[1])


def test_upsample_matches_nearest_on_constant_images() -> None:
    x = torch.ones(1, 2, 4, 4, dtype=torch.float64)
    f = torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 64
    y = upsample_image(x, f)
    assert y.shape == (1, 2, 8, 8)
    torch.testing.assert_close(y[..., 2:-2, 2:-2], torch.ones_like(y[..., 2:-2, 2:-2]))


def test_config_f_ffhq_1024_shape() -> None:
    net = StyleGAN2Network(StyleGAN2Config())
    assert net.num_ws == 18
    assert net.cfg.block_channels() == {
        4: 512,
        8: 512,
        16: 512,
        32: 512,
        64: 512,
        128: 256,
        256: 128,
        512: 64,
        1024: 32,
    }
    assert sum(p.numel() for p in net.parameters()) == 30_370_060  # NVIDIA's G_ema for ffhq.pkl


@pytest.mark.slow
def test_config_f_ffhq_1024_forward() -> None:
    img = StyleGAN2Network(StyleGAN2Config()).eval()(_z(1, 512), 0.7)
    assert img.shape == (1, 3, 1024, 1024) and torch.isfinite(img).all()


# ---------------------------------------------------------------------------------------------- kind


def test_generator_kind_builds_from_config(nvidia_pkl: Path, spec: TinySpec) -> None:
    entry = {"kind": "stylegan2", "checkpoint": str(nvidia_pkl), "noise_mode": "const"}
    gen = build_generator(entry, psi=0.7)
    assert (gen.latent_dim, gen.resolution, gen.psi) == (spec.z_dim, spec.resolution, 0.7)
    img = gen(gen.sample_latent(2, torch.Generator().manual_seed(0)))
    assert img.shape == (2, 3, 16, 16) and img.min() >= -1 and img.max() <= 1
    assert not any(p.requires_grad for p in gen.parameters())


def test_generator_kind_rejects_bad_keys(nvidia_pkl: Path) -> None:
    with pytest.raises(ConfigError, match="noise_mode"):
        build_generator({"kind": "stylegan2", "checkpoint": str(nvidia_pkl), "noise_mode": "loud"}, psi=1.0)
    with pytest.raises(ConfigError, match="docs/stylegan2.md"):
        build_generator({"kind": "stylegan2", "checkpoint": "weights/none.pkl"}, psi=1.0)


def test_rosinality_without_latent_avg_estimates_it(tmp_path: Path, spec: TinySpec, state: dict) -> None:
    net = load_stylegan2(write_rosinality(tmp_path / "g.pt", state, spec, latent_avg=False), w_avg_samples=64)
    assert not torch.allclose(net.mapping.w_avg, state["mapping.w_avg"])
    w = net.mapping(torch.randn(64, spec.z_dim, generator=torch.Generator().manual_seed(0))).mean(0)
    torch.testing.assert_close(net.mapping.w_avg, w)


def test_paper_generator_entries_are_explicit() -> None:
    entries = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())["generators"]
    for name in ("ffhq1024", "metfaces1024"):
        entry = entries[name]
        assert (entry["psi_train"], entry["psi_eval"]) == (1.0, 0.7)
        gen = entry["generator"]
        assert gen["kind"] == "stylegan2" and gen["checkpoint"].startswith("weights/stylegan2/")
        assert gen["noise_mode"] in ("const", "random", "none") and "psi" not in gen


# ---------------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"stylegan3": "T"}, "StyleGAN3 config-T"),
        ({"stylegan3": "R"}, "StyleGAN3 config-R"),
        ({"c_dim": 10}, "conditional generator"),
        ({"architecture": "resnet"}, "only 'skip'"),
    ],
)
def test_unsupported_networks_are_refused(tmp_path: Path, spec, state, kwargs: dict, message: str) -> None:
    path = write_nvidia_pickle(tmp_path / "g.pkl", nvidia_generator_meta(state, spec, **kwargs))
    with pytest.raises(CheckpointError, match=message) as err:
        load_stylegan2(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_foreign_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "g.onnx").write_bytes(b"")
    for name, message in [("list.pkl", "G_ema"), ("junk.pt", "not a torch checkpoint"), ("g.onnx", "suffix")]:
        with pytest.raises(CheckpointError, match=message):
            load_stylegan2(tmp_path / name)


# ---------------------------------------------------------------------------------------------- safety


def test_payload_really_runs_under_plain_pickle(tmp_path: Path) -> None:
    """Guard for the tests below: the payload does create its file when unpickled normally."""
    target = tmp_path / "pwned"
    pickle.loads(pickle.dumps(evil_payload(target)))
    assert target.exists()


@pytest.mark.parametrize("where", ["D", "state", "source", "G_ema"])
def test_pickled_code_never_runs(tmp_path: Path, spec, state, where: str) -> None:
    target = tmp_path / "pwned"
    source = f"open({str(target)!r}, 'w').write('pwned')\n"
    meta = nvidia_generator_meta(
        state,
        spec,
        source=source if where == "source" else "pass\n",
        extra_state={"payload": evil_payload(target)} if where == "state" else None,
    )
    extra = {"D": evil_payload(target)} if where == "D" else {}
    if where == "G_ema":
        extra = {"G_ema": evil_payload(target)}
    path = write_nvidia_pickle(tmp_path / "g.pkl", meta, **extra)
    if where == "G_ema":
        with pytest.raises(CheckpointError, match="builtins.exec"):
            load_stylegan2(path)
    else:
        assert load_stylegan2(path).num_ws == 6
    assert not target.exists()
    assert not {"torch_utils", "dnnlib", "training"} & set(sys.modules)
