"""``promptgen`` command line: train, sample, fit-moment, langevin, kl, download — usable without Snakemake.

Every command reads a YAML control spec (see :mod:`promptgen.spec`) or an INN checkpoint. A bad input is
one line (``Error: …``, exit status 1) naming the key or file; ``promptgen --verbose CMD`` shows the
traceback instead.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from promptgen.allocator import reuse_freed_memory
from promptgen.plugins import plugin_commands

__all__ = ["main", "one_line"]


def one_line(err: BaseException, source: str | None = None) -> str:
    """An error as one line: a ConfigError's own message (prefixed by the spec file it came from), else
    the exception type and the first line of its message."""
    from promptgen.models.common import CheckpointError
    from promptgen.registry import ConfigError

    lines = str(err).strip().splitlines()
    text = lines[0] if lines else ""
    if not isinstance(err, ConfigError | FloatingPointError):
        text = f"{type(err).__name__}: {text}"
    if (
        source
        and isinstance(err, ConfigError)
        and not isinstance(err, CheckpointError)
        and source not in text
    ):
        text = f"{source}: {text}"
    return text + (" (…; --verbose shows all)" if len(lines) > 1 else "")


class _Group(click.Group):
    """Runs a command; an error is one line (``Error: …``, exit status 1) unless ``--verbose`` is given.

    Installed plugins' commands (:func:`promptgen.plugins.plugin_commands`) are subcommands beside the
    built-in ones.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *plugin_commands()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or plugin_commands().get(name)

    def invoke(self, ctx: click.Context) -> None:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as err:  # noqa: BLE001 - every other failure is reported the same way
            if ctx.params.get("verbose"):
                raise
            source = (ctx.obj or {}).get("source")
            raise click.ClickException(one_line(err, source)) from err


def _source(path: str) -> None:
    """Name the spec file that a ConfigError without a file name came from."""
    ctx = click.get_current_context()
    ctx.ensure_object(dict)["source"] = path


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="promptgen-bench")
@click.option("--verbose", is_flag=True, help="On an error, show its traceback, not one line.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """PromptGen: train an INN in a frozen generator's latent space against an energy, then sample
    feed-forward from G∘f.

    \b
    Typical use:
      promptgen train examples/two_modes.yaml --out runs/two_modes
      promptgen sample runs/two_modes/inn.pt --out runs/two_modes/samples -n 64 --no-png
      promptgen kl examples/two_modes.yaml runs/two_modes/inn.pt
    """
    ctx.ensure_object(dict)["verbose"] = verbose
    reuse_freed_memory()


@main.command()
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Run directory.")
@click.option(
    "--resume/--no-resume", default=True, show_default=True, help="Continue from OUT/train_state.pt."
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
def train(spec: str, out_dir: str, resume: bool, progress: bool) -> None:
    """Train an INN on the control SPEC (Alg. 2); writes OUT/inn.pt, OUT/loss.csv, OUT/train_state.pt."""
    from promptgen.spec import load_spec, train_from_spec

    _source(spec)
    try:
        result = train_from_spec(load_spec(spec), out_dir, resume=resume, progress=progress)
    except KeyboardInterrupt as err:  # Ctrl-C: one line, no traceback; saved state is kept
        click.echo(f"Interrupted: {err}" if str(err) else "Interrupted", err=True)
        sys.exit(130)
    click.echo(
        f"trained {result.steps} steps, final loss {result.final_loss:.5g}; INN at {result.checkpoint}"
    )


@main.command()
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Output directory.")
@click.option("-n", "--num", "n", type=click.IntRange(min=1), default=64, show_default=True, help="Samples.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sample i depends only on (seed, i).")
@click.option("--psi", type=click.FloatRange(0, 1), default=1.0, show_default=True, help="Truncation ψ of G.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True, help="Speed only.")
@click.option("--cond", "cond_json", default=None, help="JSON list of one condition row for all samples.")
@click.option("--png/--no-png", default=True, show_default=True, help="Write one PNG per sample.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
def sample(
    checkpoint: str,
    out_dir: str,
    n: int,
    seed: int,
    psi: float,
    batch_size: int,
    cond_json: str | None,
    png: bool,
    device: str,
) -> None:
    """Sample G∘f from an INN CHECKPOINT (no control model needed); writes PNGs and samples.pt."""
    import torch

    from promptgen.device import resolve_device
    from promptgen.generators import build_generator
    from promptgen.registry import ConfigError
    from promptgen.sample import write_samples

    dev = resolve_device(device)
    gen = build_generator({"kind": "promptgen", "checkpoint": checkpoint}, psi=psi, device=dev)
    cond = None
    if gen.cond_dim:
        if cond_json is None:
            raise ConfigError(
                f"--cond: this INN is conditional (cond_dim={gen.cond_dim}); pass --cond '[...]'"
            )
        try:
            row = torch.tensor(json.loads(cond_json), dtype=torch.float32)
            cond = row.expand(n, gen.cond_dim).clone()
        except (ValueError, TypeError, RuntimeError) as err:
            raise ConfigError(
                f"--cond: expected a JSON list of {gen.cond_dim} numbers, got {cond_json!r}"
            ) from err
    out = write_samples(gen, n, out_dir, seed=seed, batch_size=batch_size, cond=cond, png=png, device=dev)
    click.echo(f"wrote {n} samples to {out}")


@main.command("fit-moment")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_file", type=click.Path(dir_okay=False), required=True, help="β̂ JSON file.")
def fit_moment(spec: str, out_file: str) -> None:
    """Fit β̂ of the moment constraint (Eq. 7) for SPEC's generator, gamma and mu; writes a JSON."""
    import torch

    from promptgen.device import resolve_device
    from promptgen.energies import ModelCache
    from promptgen.energies.classifier import ClassProbabilities
    from promptgen.generators import build_generator
    from promptgen.moment import fit_beta, save_moment_fit
    from promptgen.registry import ConfigError
    from promptgen.spec import load_spec

    _source(spec)
    s = load_spec(spec)
    for key in ("gamma", "mu"):
        if key not in s:
            raise ConfigError(f"{spec}: missing key {key!r} for fit-moment")
    if not isinstance(s["gamma"], dict) or not {"model", "head"} <= set(s["gamma"]):
        raise ConfigError(f"gamma: expected {{model: <model entry>, head: <name>}}, got {s['gamma']!r}")
    if not isinstance(s.get("moment") or {}, dict):
        raise ConfigError(f"moment: expected a mapping of fit settings, got {s['moment']!r}")
    dev = resolve_device(s.get("device", "auto"))
    gen = build_generator(s["generator"], psi=s.get("psi", 1.0), device=dev)
    gamma = ClassProbabilities(ModelCache(dev).get(s["gamma"]["model"], "gamma.model"), s["gamma"]["head"])

    def features(m: int, rng: torch.Generator) -> torch.Tensor:
        return gamma(gen(torch.randn(m, gen.latent_dim, generator=rng).to(dev))).cpu()

    mu = s["mu"]
    if mu == "uniform":
        k = features(2, torch.Generator().manual_seed(0)).shape[1]
        mu = [1.0 / k] * k
    try:
        fit = fit_beta(features, mu, **(s.get("moment") or {}))
    except TypeError as err:
        raise ConfigError(f"moment: {err}") from err
    save_moment_fit(fit, out_file)
    click.echo(f"beta_hat={fit.beta_hat} moment_error={fit.moment_error:.2e} -> {out_file}")


@main.command()
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Output directory.")
@click.option("-n", "--num", "n", type=click.IntRange(min=1), default=64, show_default=True, help="Chains.")
@click.option("--steps", type=click.IntRange(min=0), default=50, show_default=True, help="Langevin steps n.")
@click.option(
    "--step-size",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-2,
    show_default=True,
    help="η in z ← z − (η/2)∇U + √η ξ.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
def langevin(
    spec: str, out_dir: str, n: int, steps: int, step_size: float, seed: int, batch_size: int
) -> None:
    """PPGM baseline: Langevin dynamics on SPEC's EBM; writes OUT/samples.pt and PNGs."""
    import torch

    from promptgen.baselines.langevin import langevin as run_langevin
    from promptgen.device import resolve_device
    from promptgen.energies import build_energy_sum
    from promptgen.generators import build_generator
    from promptgen.sample import save_png, to_uint8
    from promptgen.spec import load_spec

    _source(spec)
    s = load_spec(spec)
    dev = resolve_device(s.get("device", "auto"))
    gen = build_generator(s["generator"], psi=s.get("psi", 1.0), device=dev)
    energy = build_energy_sum(s.get("energies") or {}, device=dev)
    res = run_langevin(
        gen, energy, n, steps=steps, step_size=step_size, seed=seed, batch_size=batch_size, device=dev
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = to_uint8(res.images)
    if images.shape[-1] in (1, 3) and images.shape[1] > 1:
        for i, im in enumerate(images):
            save_png(im, out / f"{i:06d}.png")
    torch.save({"z": res.z, "images": images, "seconds": res.seconds, "steps": steps}, out / "samples.pt")
    click.echo(f"{n} chains × {steps} steps in {res.seconds:.2f} s -> {out}")


@main.command()
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("-n", "--num", "n", type=click.IntRange(min=2), default=65536, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def kl(spec: str, checkpoint: str, n: int, seed: int) -> None:
    """Estimate KL(q‖p) of an INN CHECKPOINT against SPEC's EBM (log Z by importance sampling)."""
    from promptgen.checkpoint import load_inn
    from promptgen.device import resolve_device
    from promptgen.energies import build_energy_sum
    from promptgen.generators import build_generator
    from promptgen.kl import estimate_kl
    from promptgen.spec import load_spec

    _source(spec)
    s = load_spec(spec)
    dev = resolve_device(s.get("device", "auto"))
    gen = build_generator(s["generator"], psi=s.get("psi", 1.0), device=dev)
    energy = build_energy_sum(s.get("energies") or {}, device=dev)
    inn, _ = load_inn(checkpoint, map_location=dev)
    est = estimate_kl(gen, inn, energy, n=n, seed=seed, device=dev)
    json.dump(asdict(est), sys.stdout, indent=2)
    click.echo()


@main.command()
@click.argument("names", nargs=-1)
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False),
    default="config/weights.yaml",
    show_default=True,
    help="Checkpoint list: URL, sha256, target path.",
)
@click.option(
    "--root", type=click.Path(file_okay=False), default=".", show_default=True, help="Repository root."
)
@click.option(
    "--check", is_flag=True, help="Fetch nothing; list every missing file, where to get it and put it."
)
@click.option("--all", "everything", is_flag=True, help="Include optional entries (the authors' fitted β̂).")
@click.option(
    "--timeout", type=click.FloatRange(min=1), default=60.0, show_default=True, help="Seconds per read."
)
def download(
    names: tuple[str, ...], manifest: str, root: str, check: bool, everything: bool, timeout: float
) -> None:
    """Fetch the paper's checkpoints (NAMES, default: all required) with resume and sha256 checks."""
    from promptgen.download import download_entry, load_manifest, missing, missing_report, select

    entries = select(load_manifest(manifest), names, everything)
    failures = []
    for entry in [] if check else missing(entries, root):
        try:
            download_entry(entry, root, timeout=timeout, log=click.echo)
        except OSError as err:  # offline, refused, HTTP errors: reported together below
            failures.append(f"{entry.name}: {type(err).__name__}: {err}")
    absent = missing(entries, root)
    if absent:
        reasons = "".join(f"\n  ! {f}" for f in failures)
        raise click.ClickException(missing_report(absent, len(entries), root) + reasons)
    click.echo(f"all {len(entries)} checkpoints present under {root}")


if __name__ == "__main__":  # pragma: no cover
    main()
