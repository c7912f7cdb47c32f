"""Captions with the reporting bias, and the tiny CLIP: open_clip round trip, seeded training, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from promptgen.world.captions import CaptionRates, make_captions
from promptgen.world.clip import (
    ATTRIBUTE_PROMPTS,
    BIAS_PROMPT,
    ClipTrainConfig,
    create_tiny_clip,
    load_world_clip,
    reporting_bias,
    save_checkpoint,
    train_tiny_clip,
    write_model_config,
    zero_shot_accuracy,
)

ATTRS = ("male", "eyeglasses", "blond", "young")
SMALL_ARCH = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 64, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
}


def fake_labels(n: int, seed: int = 0) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    male = (torch.rand(n, generator=gen) < 0.4).long()
    age = torch.randint(0, 3, (n,), generator=gen)
    return {
        "male": male,
        "eyeglasses": (torch.rand(n, generator=gen) < 0.2).long(),
        "blond": (torch.rand(n, generator=gen) < 0.15).long(),
        "young": (age == 0).long(),
        "old": (age == 2).long(),
        "makeup": (1 - male) * (torch.rand(n, generator=gen) < 0.5).long(),
        "tone": torch.randint(0, 4, (n,), generator=gen),
        "yaw": 0.4 * torch.randn(n, generator=gen),
    }


def test_captions_depend_only_on_seed_and_index():
    labels = fake_labels(40)
    full = make_captions(labels, seed=3)
    assert make_captions({k: v[:10] for k, v in labels.items()}, seed=3) == full[:10]
    assert make_captions(labels, seed=4) != full
    assert all(c.startswith(("a photo", "a picture", "a portrait", "a close-up")) for c in full)


def test_captions_carry_the_reporting_bias():
    labels = fake_labels(4000)
    captions = make_captions(labels, seed=0)
    said = torch.tensor([("without makeup" in c or "no makeup" in c) for c in captions])
    female, makeup = labels["male"] == 0, labels["makeup"] == 1
    assert not (said & makeup).any()
    assert female[said].float().mean() > 0.85  # far above the female share among makeup-free faces
    assert female[~makeup].float().mean() < 0.5
    for c, m in zip(captions, labels["male"].tolist(), strict=True):
        assert not (m and ("lipstick" in c or "with makeup" in c or "wearing makeup" in c))


def test_captions_name_the_attributes_they_mention():
    labels = fake_labels(500)
    columns = [labels[a].tolist() for a in ATTRS]
    for c, male, glasses, blond, young in zip(make_captions(labels, seed=1), *columns, strict=True):
        assert (" man" in c) <= bool(male) and (" woman" in c) <= (not male)
        assert ("with glasses" in c or "wearing glasses" in c) <= bool(glasses)
        assert ("blond" in c) <= bool(blond)
        assert ("young" in c) <= bool(young) and ("older" in c) <= (not young)


def test_captions_errors_name_the_key():
    labels = fake_labels(5)
    with pytest.raises(KeyError, match="makeup"):
        make_captions({k: v for k, v in labels.items() if k != "makeup"}, seed=0)
    with pytest.raises(ValueError, match="tone"):
        make_captions({**labels, "tone": torch.full((5,), 9)}, seed=0, rates=CaptionRates(tone=1.0))


def test_tiny_clip_loads_through_the_open_clip_adapter(tmp_path: Path):
    config = write_model_config(tmp_path / "world-tiny-clip-test.json", SMALL_ARCH)
    model = create_tiny_clip(config, seed=0).eval()
    ckpt = save_checkpoint(model, tmp_path / "clip.pt", half=False)
    clip = load_world_clip(ckpt, config)
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    mean, std = clip.mean, clip.std
    expected = F.normalize(model.encode_image(((x + 1) / 2 - mean) / std), dim=-1)
    torch.testing.assert_close(clip.encode_image(x), expected)
    assert clip.encode_text(["a photo of a man", "a photo of a woman"]).shape == (2, 16)
    assert json.loads(config.read_text())["text_cfg"]["vocab_size"] == 49408  # the stock tokenizer's


def test_tiny_clip_training_is_seeded(tmp_path: Path):
    images = torch.randint(0, 256, (64, 3, 64, 64), dtype=torch.uint8)
    cfg = ClipTrainConfig(epochs=1, batch_size=32, arch=SMALL_ARCH, seed=5)
    runs = [train_tiny_clip(images, fake_labels(64), tmp_path / str(i), cfg) for i in range(2)]
    a, b = (torch.load(r["checkpoint"], weights_only=True) for r in runs)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert all(v.dtype != torch.float32 for v in a.values())  # shipped as float16


class StubClip:
    """Known embeddings: image i (index stored in two pixels) is ``table[i]``; prompts are basis vectors."""

    def __init__(self, table: Tensor):
        self.table = F.normalize(table, dim=-1)
        eye = torch.eye(table.shape[1])
        self.text = {BIAS_PROMPT: eye[len(ATTRS)]}
        for i, (neg, pos) in enumerate(ATTRIBUTE_PROMPTS[a] for a in ATTRS):
            self.text.update({p: -eye[i] for p in neg} | {p: eye[i] for p in pos})

    @staticmethod
    def images(n: int) -> Tensor:
        x = torch.zeros(n, 3, 64, 64, dtype=torch.uint8)
        x[:, 0, 0, 0], x[:, 0, 0, 1] = torch.arange(n) // 256, torch.arange(n) % 256
        return x

    def encode_image(self, x: Tensor) -> Tensor:
        pix = ((x[:, 0, 0, :2] + 1) * 127.5).round().long()
        return self.table[pix[:, 0] * 256 + pix[:, 1]]

    def encode_text(self, texts: list[str]) -> Tensor:
        return torch.stack([self.text[t] for t in texts])


def test_zero_shot_accuracy_and_bias_probe_on_a_stub():
    n, labels = 600, fake_labels(600)
    bits = torch.stack([labels[a].float() * 2 - 1 for a in ATTRS], -1)
    female = (labels["male"] == 0).float()
    score = (2 * female - 1) * torch.rand(n) + 0.01 * torch.arange(n) / n  # female-cue faces rank first
    clip = StubClip(torch.cat([bits, score[:, None]], -1))
    accuracy = zero_shot_accuracy(clip, clip.images(n), labels, batch_size=64)
    assert accuracy == {a: 1.0 for a in ATTRS}
    flipped = {**labels, "blond": 1 - labels["blond"]}
    assert zero_shot_accuracy(clip, clip.images(n), flipped, batch_size=64)["blond"] == 0.0
    bias = reporting_bias(clip, clip.images(n), labels, top_k=50, batch_size=64)
    assert bias["female_share_top_k"] == 1.0
    assert bias["female_share_makeup_free"] == pytest.approx(female[labels["makeup"] == 0].mean().item())
    with pytest.raises(ValueError, match="top_k"):
        reporting_bias(clip, clip.images(10), {k: v[:10] for k, v in labels.items()}, top_k=50)


WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "world"


def test_shipped_clip_matches_its_manifest_and_sees_the_attributes():
    from promptgen.download import sha256_file as sha256
    from promptgen.world.metrics import held_out
    from promptgen.world.train_clip_vae import MANIFEST, weight_paths

    files = json.loads((WEIGHTS / MANIFEST).read_text())["files"]
    paths = weight_paths(WEIGHTS)
    for key in ("clip", "clip_config"):
        assert sha256(paths[key]) == files[str(paths[key].relative_to(WEIGHTS))]["sha256"]
    clip = load_world_clip(paths["clip"], paths["clip_config"])
    test = held_out(300, seed=4242)
    assert min(zero_shot_accuracy(clip, test.images, test.labels).values()) >= 0.9


@pytest.mark.slow
def test_tiny_clip_retrains_to_acceptance(tmp_path: Path):
    from promptgen.world.clip import clip_metrics
    from promptgen.world.dataset import build_dataset
    from promptgen.world.metrics import held_out
    from promptgen.world.train_clip_vae import train_clip_vae, weight_paths

    data = build_dataset(tmp_path / "dataset.pt", n=10_000, seed=0)
    train_clip_vae(data, tmp_path, models=("clip",))
    paths, test = weight_paths(tmp_path), held_out(4000)
    rows = clip_metrics(load_world_clip(paths["clip"], paths["clip_config"]), test.images, test.labels)
    assert all(ok for *_, ok in rows), rows


def _write_entries(out_dir: Path, worker: int, n: int) -> None:
    from promptgen.world.train_clip_vae import write_manifest

    for i in range(n):
        path = out_dir / f"w{worker}-{i}.pt"
        path.write_bytes(bytes([worker, i]))
        write_manifest(out_dir, {path: {"worker": worker}})


def test_manifest_writers_running_together_lose_no_entry(tmp_path: Path):
    """world_retrain's CLIP and VAE jobs update one manifest; concurrent writers must not drop entries."""
    import multiprocessing

    from promptgen.world.train_clip_vae import MANIFEST

    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_entries, args=(tmp_path, w, 30)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs)
    files = json.loads((tmp_path / MANIFEST).read_text())["files"]
    assert len(files) == 120 and files["w3-29.pt"]["worker"] == 3
