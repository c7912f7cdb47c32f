"""Paper-world adapters load checkpoints written here in the real file layouts (real key names and shapes,
random values) and give outputs of the right shape and label order; wrong or truncated files fail in one line
naming the file and what was expected."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from promptgen.models import MODELS, load_builtin_adapters
from promptgen.models.common import CheckpointError
from promptgen.rotations import axis_angle_to_matrix

load_builtin_adapters()

N, SIDE = 2, 32  # small images: every adapter resizes to its own input size


def images(seed: int = 0) -> torch.Tensor:
    return torch.rand(N, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def celeba_state(bias: float) -> dict[str, torch.Tensor]:
    """The authors' CelebA ResNet50 module: ``resnet`` (fc 2048 -> 2048) + top-level ``fc`` 2048 -> 1."""
    resnet = torchvision.models.resnet50(weights=None)
    resnet.fc = nn.Linear(2048, 2048)
    state = OrderedDict((f"resnet.{k}", v) for k, v in resnet.state_dict().items())
    state["fc.weight"] = torch.zeros(1, 2048)
    state["fc.bias"] = torch.full((1,), bias)
    return state


def fairface_state() -> dict[str, torch.Tensor]:
    net = torchvision.models.resnet34(weights=None)
    net.fc = nn.Linear(512, 18)
    state = net.state_dict()
    state["fc.weight"] = torch.zeros(18, 512)
    state["fc.bias"] = torch.arange(18, dtype=torch.float32)  # logit j = j: reveals the slicing
    return state


def _bn(prefix: str, c: int) -> dict[str, torch.Tensor]:
    return {
        f"{prefix}.weight": torch.rand(c) + 0.5,
        f"{prefix}.bias": torch.randn(c) * 0.1,
        f"{prefix}.running_mean": torch.randn(c) * 0.1,
        f"{prefix}.running_var": torch.rand(c) + 0.5,
        f"{prefix}.num_batches_tracked": torch.tensor(0),
    }


def irse50_state() -> dict[str, torch.Tensor]:
    """model_ir_se50.pth's names and shapes, written independently of promptgen.models.irse50."""
    s: dict[str, torch.Tensor] = {"input_layer.0.weight": torch.randn(64, 3, 3, 3) * 0.2}
    s |= _bn("input_layer.1", 64) | {"input_layer.2.weight": torch.full((64,), 0.25)}
    spec = [(64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3)]
    i = 0
    for c_in, c, units in spec:
        for u in range(units):
            cin = c_in if u == 0 else c
            p = f"body.{i}"
            if cin != c:
                s[f"{p}.shortcut_layer.0.weight"] = torch.randn(c, cin, 1, 1) / cin**0.5
                s |= _bn(f"{p}.shortcut_layer.1", c)
            s |= _bn(f"{p}.res_layer.0", cin)
            s[f"{p}.res_layer.1.weight"] = torch.randn(c, cin, 3, 3) / (9 * cin) ** 0.5
            s[f"{p}.res_layer.2.weight"] = torch.full((c,), 0.25)
            s[f"{p}.res_layer.3.weight"] = torch.randn(c, c, 3, 3) / (9 * c) ** 0.5
            s |= _bn(f"{p}.res_layer.4", c)
            s[f"{p}.res_layer.5.fc1.weight"] = torch.randn(c // 16, c, 1, 1) / c**0.5
            s[f"{p}.res_layer.5.fc2.weight"] = torch.randn(c, c // 16, 1, 1) / (c // 16) ** 0.5
            i += 1
    s |= _bn("output_layer.0", 512)
    s["output_layer.3.weight"] = torch.randn(512, 512 * 49) / (512 * 49) ** 0.5
    s["output_layer.3.bias"] = torch.zeros(512)
    return s | _bn("output_layer.4", 512)


def deca_checkpoint(pose: torch.Tensor) -> dict[str, dict[str, torch.Tensor]]:
    """deca_model.tar: E_flame = {encoder.* (ResNet-50 without fc), layers.0/2}; the code is constant."""
    resnet = torchvision.models.resnet50(weights=None)
    state = OrderedDict(
        (f"encoder.{k}", v) for k, v in resnet.state_dict().items() if not k.startswith("fc.")
    )
    bias = torch.zeros(236)
    bias[200:203] = pose  # shape 100, tex 50, exp 50 -> pose starts at 200
    state |= {
        "layers.0.weight": torch.randn(1024, 2048) * 0.01,
        "layers.0.bias": torch.zeros(1024),
        "layers.2.weight": torch.zeros(236, 1024),
        "layers.2.bias": bias,
    }
    return {"E_flame": state, "E_detail": {"layers.0.bias": torch.zeros(3)}, "D_detail": {}}


def truncate(src: Path, dst: Path) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


@pytest.fixture(scope="module")
def ckpt_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("paper_ckpts")
    for name, bias in (("Male", 1.5), ("Eyeglasses", -2.0)):
        (d / "celeba" / name).mkdir(parents=True)
        torch.save({"model": celeba_state(bias), "epoch": 3}, d / "celeba" / name / "best.pth")
    torch.save(fairface_state(), d / "fairface.pt")
    torch.save(irse50_state(), d / "model_ir_se50.pth")
    torch.save(deca_checkpoint(torch.tensor([0.3, -0.2, 0.1])), d / "deca_model.tar")
    return d


def test_celeba_heads_and_order(ckpt_dir: Path) -> None:
    entry = {
        "kind": "celeba-resnet50",
        "checkpoints": {
            "male": str(ckpt_dir / "celeba/Male/best.pth"),
            "eyeglasses": str(ckpt_dir / "celeba/Eyeglasses/best.pth"),
        },
    }
    model = MODELS.build(entry)
    out = model(images())
    assert list(out) == ["male", "eyeglasses"]
    torch.testing.assert_close(out["male"], torch.full((N,), 1.5))
    torch.testing.assert_close(out["eyeglasses"], torch.full((N,), -2.0))


def test_fairface_heads_and_label_order(ckpt_dir: Path) -> None:
    from promptgen.models.fairface import AGE_LABELS, GENDER_LABELS, RACE_LABELS

    model = MODELS.build({"kind": "fairface-resnet34", "checkpoint": str(ckpt_dir / "fairface.pt")})
    out = model(images())
    assert {k: tuple(v.shape) for k, v in out.items()} == {"race": (N, 7), "gender": (N, 2), "age": (N, 9)}
    torch.testing.assert_close(out["race"][0], torch.arange(0.0, 7.0))
    torch.testing.assert_close(out["gender"][0], torch.arange(7.0, 9.0))
    torch.testing.assert_close(out["age"][0], torch.arange(9.0, 18.0))
    assert RACE_LABELS[0] == "White" and RACE_LABELS[2] == "Latino_Hispanic" and len(RACE_LABELS) == 7
    assert GENDER_LABELS == ("Male", "Female")
    assert AGE_LABELS[0] == "0-2" and AGE_LABELS[-1] == "70+" and len(AGE_LABELS) == 9
    assert model.labels["age"] == AGE_LABELS


def test_irse50_embeddings(ckpt_dir: Path) -> None:
    model = MODELS.build({"kind": "irse50", "checkpoint": str(ckpt_dir / "model_ir_se50.pth")})
    x = images()
    emb = model(x)
    assert emb.shape == (N, 512)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(N))
    face = model.preprocess(torch.nn.functional.interpolate(x, size=256))
    assert face.shape == (N, 3, 112, 112) and face.min() >= 0  # the authors' [0, 1] input range


def test_irse50_crop_region(ckpt_dir: Path) -> None:
    """Only rows 35:223 and columns 32:220 of the 256-pooled image reach the backbone."""
    model = MODELS.build({"kind": "irse50", "checkpoint": str(ckpt_dir / "model_ir_se50.pth")})
    x = torch.zeros(1, 3, 256, 256)
    x[:, :, 35:223, 32:220] = 1.0
    torch.testing.assert_close(model.preprocess(x), torch.ones(1, 3, 112, 112))


def test_deca_rotation(ckpt_dir: Path) -> None:
    model = MODELS.build({"kind": "deca-encoder", "checkpoint": str(ckpt_dir / "deca_model.tar")})
    rot = model(images())
    assert rot.shape == (N, 3, 3)
    expected = axis_angle_to_matrix(torch.tensor([0.3, -0.2, 0.1])).expand(N, 3, 3)
    torch.testing.assert_close(rot, expected)
    code = model.code(images())
    assert (
        code["shape"].shape == (N, 100) and code["pose"].shape == (N, 6) and code["light"].shape == (N, 9, 3)
    )


@pytest.mark.parametrize(
    "kind, key, file, expected",
    [
        ("fairface-resnet34", "checkpoint", "model_ir_se50.pth", "ResNet-34"),  # wrong model
        ("irse50", "checkpoint", "fairface.pt", "IR-SE-50"),
        ("deca-encoder", "checkpoint", "fairface.pt", "E_flame"),  # no E_flame key
    ],
)
def test_wrong_file_is_one_line(ckpt_dir: Path, kind: str, key: str, file: str, expected: str) -> None:
    path = str(ckpt_dir / file)
    with pytest.raises(CheckpointError) as err:
        MODELS.build({"kind": kind, key: path})
    msg = str(err.value)
    assert "\n" not in msg and path in msg and expected in msg


def test_wrong_celeba_file_and_truncated_files(ckpt_dir: Path, tmp_path: Path) -> None:
    fair = str(ckpt_dir / "fairface.pt")
    with pytest.raises(CheckpointError, match="no key 'model'") as err:
        MODELS.build({"kind": "celeba-resnet50", "checkpoints": {"male": fair}})
    assert fair in str(err.value)
    for kind, src in (("irse50", "model_ir_se50.pth"), ("deca-encoder", "deca_model.tar")):
        bad = truncate(ckpt_dir / src, tmp_path / f"cut_{src}")
        with pytest.raises(CheckpointError, match="truncated or corrupt") as err:
            MODELS.build({"kind": kind, "checkpoint": str(bad)})
        assert str(bad) in str(err.value) and "\n" not in str(err.value)


def test_shape_mismatch_and_missing_file(tmp_path: Path) -> None:
    state = fairface_state()
    state["fc.weight"] = torch.zeros(4, 512)  # FairFace's 4-race model head has another shape
    state["fc.bias"] = torch.zeros(4)
    torch.save(state, tmp_path / "fair4.pt")
    with pytest.raises(CheckpointError, match=r"fc.weight has shape \(4, 512\), expected \(18, 512\)"):
        MODELS.build({"kind": "fairface-resnet34", "checkpoint": str(tmp_path / "fair4.pt")})
    with pytest.raises(CheckpointError, match="not found; expected .*promptgen download --check"):
        MODELS.build({"kind": "irse50", "checkpoint": str(tmp_path / "absent.pth")})


@pytest.mark.slow
def test_paper_scale_code_paths_one_step() -> None:
    """ViT-B/32 (random weights) + StyleGAN2-1024: CLIP energy, a PPGM step and a PromptGen step on CPU."""
    import importlib.util

    path = Path(__file__).parents[1] / "benchmarks" / "paper_scale_cpu.py"
    spec = importlib.util.spec_from_file_location("paper_scale_cpu", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.run(batch=1, n_aug=2, threads=2)
    assert [r["operation"] for r in rows] == [
        "generator_forward",
        "clip_energy",
        "ppgm_langevin_step",
        "promptgen_train_step",
    ]
    assert all(r["seconds"] > 0 for r in rows)
