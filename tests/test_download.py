"""``promptgen download``: resume with HTTP Range, sha256 checks, unpacking, and the one offline message.

Everything is served by a local ``http.server`` on 127.0.0.1; no other host is contacted.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from promptgen.cli import main
from promptgen.download import (
    DownloadError,
    WeightEntry,
    download_entry,
    download_file,
    load_manifest,
    missing,
    missing_report,
    select,
)

PAYLOAD = bytes(range(256)) * 40  # 10 KiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("celeba/Male/best.pth", b"male")
        zf.writestr("celeba/Young/best.pth", b"young")
    return buf.getvalue()


FILES = {"/ckpt.bin": PAYLOAD, "/celeba.zip": _zip_bytes()}


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves FILES; honours ``Range: bytes=N-`` unless the path starts with /norange."""

    ranges: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.removeprefix("/norange")
        if path not in FILES:
            self.send_error(404)
            return
        data, rng = FILES[path], self.headers.get("Range")
        type(self).ranges.append(rng)
        if rng and not self.path.startswith("/norange"):
            start = int(rng.removeprefix("bytes=").rstrip("-"))
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            data = data[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _clear_ranges() -> None:
    Handler.ranges.clear()


def test_fresh_download_checks_sha(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "w" / "ckpt.bin"
    assert download_file(f"{server}/ckpt.bin", dest, SHA) == SHA
    assert dest.read_bytes() == PAYLOAD and not (tmp_path / "w" / "ckpt.bin.part").exists()
    assert Handler.ranges == [None]


def test_resume_sends_range(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "ckpt.bin"
    (tmp_path / "ckpt.bin.part").write_bytes(PAYLOAD[:3000])
    download_file(f"{server}/ckpt.bin", dest, SHA)
    assert Handler.ranges == ["bytes=3000-"] and dest.read_bytes() == PAYLOAD


def test_complete_part_and_server_without_range(server: str, tmp_path: Path) -> None:
    (tmp_path / "a.part").write_bytes(PAYLOAD)  # already complete: the server answers 416
    download_file(f"{server}/ckpt.bin", tmp_path / "a", SHA)
    assert (tmp_path / "a").read_bytes() == PAYLOAD
    (tmp_path / "b.part").write_bytes(b"garbage")  # server ignores Range -> restart from byte 0
    download_file(f"{server}/norange/ckpt.bin", tmp_path / "b", SHA)
    assert (tmp_path / "b").read_bytes() == PAYLOAD


def test_sha_mismatch_is_one_line_and_removes_part(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "ckpt.bin"
    with pytest.raises(DownloadError) as err:
        download_file(f"{server}/ckpt.bin", dest, "0" * 64)
    msg = str(err.value)
    assert "\n" not in msg and str(dest) in msg and "0" * 64 in msg and SHA in msg
    assert not dest.exists() and not (tmp_path / "ckpt.bin.part").exists()


def _manifest(tmp_path: Path, server: str) -> Path:
    weights = [
        {
            "name": "ckpt",
            "url": f"{server}/ckpt.bin",
            "sha256": SHA,
            "path": "weights/ckpt.bin",
            "used_by": "t",
        },
        {
            "name": "celeba",
            "url": f"{server}/celeba.zip",
            "sha256": None,
            "path": "weights/celeba.zip",
            "unpack": "weights",
            "provides": ["weights/celeba/Male/best.pth", "weights/celeba/Young/best.pth"],
        },
        {"name": "extra", "url": f"{server}/absent.bin", "path": "weights/x.bin", "optional": True},
    ]
    path = tmp_path / "weights.yaml"
    path.write_text(yaml.safe_dump({"weights": weights}))
    return path


def test_entries_unpack_and_select(server: str, tmp_path: Path) -> None:
    entries = load_manifest(_manifest(tmp_path, server))
    required = select(entries)
    assert [e.name for e in required] == ["ckpt", "celeba"]
    assert [e.name for e in select(entries, everything=True)] == ["ckpt", "celeba", "extra"]
    for e in required:
        download_entry(e, tmp_path, log=lambda _: None)
    assert missing(required, tmp_path) == []
    assert (tmp_path / "weights/celeba/Young/best.pth").read_bytes() == b"young"


def test_check_lists_every_missing_file_once(server: str, tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, server)
    result = CliRunner().invoke(
        main, ["download", "--check", "--all", "--manifest", str(manifest), "--root", str(tmp_path)]
    )
    assert result.exit_code == 1 and Handler.ranges == []  # nothing fetched
    out = result.output
    assert out.count("Error:") == 1 and "3 of 3 paper checkpoints missing" in out
    for name, url, path in (
        ("ckpt", "/ckpt.bin", "weights/ckpt.bin"),
        ("celeba", "/celeba.zip", "weights/celeba.zip"),
        ("extra", "/absent.bin", "weights/x.bin"),
    ):
        assert f"- {name}: {server}{url} -> {tmp_path / path}" in out
    assert "unzip it into" in out and f"sha256 {SHA}" in out


def test_cli_downloads_then_reports_failures_together(server: str, tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, server)
    args = ["download", "--manifest", str(manifest), "--root", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "all 2 checkpoints present" in result.output and "no published sha256; got" in result.output
    result = CliRunner().invoke(main, [*args, "--all"])  # 'extra' is 404: one message naming it
    assert result.exit_code == 1 and "1 of 3 paper checkpoints missing" in result.output
    assert "- extra:" in result.output and "HTTPError" in result.output


def test_report_of_offline_failure(tmp_path: Path) -> None:
    entries = load_manifest(Path(__file__).parents[1] / "config" / "weights.yaml")
    report = missing_report(missing(select(entries), tmp_path), len(select(entries)), tmp_path)
    for name in ("clip-vit-b-32-openai", "irse50", "deca", "fairface", "celeba", "stylegan2-ffhq"):
        assert f"- {name}: https://" in report
    assert "beta-hat-ffhq" not in report  # optional entries only with --all


def test_torchscript_archive_converted_to_state_dict(server: str, tmp_path: Path) -> None:
    """The OpenAI CLIP entry: a hash-checked TorchScript archive is saved as a state dict open_clip loads."""
    import torch

    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 3)), buf)
    FILES["/clip.pt"] = buf.getvalue()
    sha = hashlib.sha256(FILES["/clip.pt"]).hexdigest()
    entry = WeightEntry(
        name="clip",
        url=f"{server}/clip.pt",
        sha256=sha,
        path="weights/clip/ViT.pt",
        convert={"kind": "torchscript-state-dict", "path": "weights/clip/ViT-state.pt"},
        provides=("weights/clip/ViT-state.pt",),
    )
    download_entry(entry, tmp_path, log=lambda _: None)
    state = torch.load(tmp_path / "weights/clip/ViT-state.pt", weights_only=True)
    assert set(state) == {"weight", "bias"} and state["weight"].shape == (3, 2)


def test_clip_entry_is_open_clips_hub_copy_of_the_openai_weights() -> None:
    """The required CLIP entry is the file open_clip resolves ViT-B-32 'openai' to, pinned, with a hash;
    config/paper.yaml points at it."""
    import open_clip
    import yaml
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME

    root = Path(__file__).parents[1]
    entries = {e.name: e for e in load_manifest(root / "config" / "weights.yaml")}
    clip = entries["clip-vit-b-32-openai"]
    repo = open_clip.get_pretrained_cfg("ViT-B-32", "openai")["hf_hub"].rstrip("/")
    assert clip.url.startswith(f"https://huggingface.co/{repo}/resolve/")
    assert (
        clip.url.endswith(f"/{HF_SAFE_WEIGHTS_NAME}") and "/resolve/main/" not in clip.url
    )  # pinned revision
    assert clip.sha256 is not None and len(clip.sha256) == 64 and not clip.optional
    paper = yaml.safe_load((root / "config" / "paper.yaml").read_text())
    assert paper["models"]["clip"]["pretrained"] == clip.path
    assert entries["clip-vit-b-32-openai-azure"].optional
