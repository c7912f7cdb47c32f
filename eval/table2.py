"""Table 2 as pipeline steps: the judged prior pool, each method's training and evaluation, aggregation.

Methods are config entries (:mod:`promptgen.methods`). For each (generator, seed):

* :func:`judge_pool` renders the prior pool once and keeps every judge's log-probabilities, the oracle's
  labels and the control classifier's log-probabilities (methods with ``"pool"`` in their needs use it);
* :func:`fit_method` runs a method's training stage (PromptGen's conditional INN) and records its status;
* :func:`evaluate_method` asks the method for each task's requests and judges the samples: task
  ``columns`` (``results/table2.csv``, the paper's protocol: each column conditioned on its own attributes,
  the others free, equal numbers per class) or ``joint`` (``results/table2_joint.csv``, our extension:
  every combination of all attributes at once);
* :func:`method_images` draws the same way and returns the images (Table 2's sample grid).

A method that raises (a degenerate fit, a singular system) gets rows with ``status`` ``failed`` and the
reason, with a warning; every other method's rows are written. A config error still stops the job.

Each function takes plain config dictionaries (the validated pipeline config) so the Snakemake scripts stay
thin; each is usable on its own from Python.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from eval.debias import (
    TABLE2_COLUMNS,
    THRESHOLD_TEXT,
    column_groups,
    column_requests,
    judge_log_probs,
    labels_from_log_probs,
    request_stats,
)
from eval.literature import literature_rows
from eval.metric_kl import kl_noise_floor
from promptgen.device import resolve_device
from promptgen.energies import ModelCache
from promptgen.generators import build_generator
from promptgen.methods import (
    DebiasMethod,
    Draws,
    MethodContext,
    PriorPool,
    PromptGen,
    build_method,
    check_needs,
    generator_provides,
)
from promptgen.registry import ConfigError, import_oracle
from promptgen.sample import per_sample_normal

__all__ = [
    "COLUMNS",
    "aggregate_table2",
    "evaluate_method",
    "fit_method",
    "judge_pool",
    "method_images",
    "method_names",
    "table2_group_weights",
    "table2_groups",
    "train_spec",
]

COLUMNS = list(TABLE2_COLUMNS)
LOG = logging.getLogger("promptgen.table2")


def table2_groups(attributes: list[str]) -> list[tuple[int, ...]]:
    """The attribute groups Table 2 requests: each column's attributes, then all of them (the joint task)."""
    groups = list(column_groups(attributes).values())
    return [*groups, tuple(range(len(attributes)))]


def table2_group_weights(t2: Mapping[str, Any]) -> list[float] | None:
    """How often PromptGen's training draws each group of :func:`table2_groups` (``table2.group_weights``:
    column name or ``joint`` -> relative weight, default 1); None when every group has weight 1.

    Raises:
        ConfigError: a name that is not a column or ``joint``, or a weight that is not a number >= 0.
    """
    given = dict(t2.get("group_weights") or {})
    names = [*column_groups(list(t2["attributes"])), "joint"]
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ConfigError(f"table2.group_weights: unknown groups {unknown} (groups: {', '.join(names)})")
    for name, w in given.items():
        if isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w < float("inf"):
            raise ConfigError(f"table2.group_weights.{name}: expected a number >= 0, got {w!r}")
    weights = [float(given.get(n, 1.0)) for n in names]
    if sum(weights) <= 0:
        raise ConfigError("table2.group_weights: at least one group needs a weight > 0")
    return None if all(w == 1.0 for w in weights) else weights


def train_spec(
    gen_cfg: Mapping[str, Any], t2: Mapping[str, Any], models: Mapping[str, Any], device: str, seed: int
) -> dict[str, Any]:
    """The control spec of PromptGen's Table-2 INN (partial specifications over every column and the joint
    task), as the pipeline trains it (:mod:`promptgen.spec`)."""
    attrs = list(t2["attributes"])
    ctx = MethodContext(
        generator=None,
        control=None,
        attributes=attrs,
        weight=float(t2["weight"]),
        groups=table2_groups(attrs),
        gen_cfg=gen_cfg,
        section=t2,
        control_entry=_model_entry(models, t2["control_model"], "table2.control_model"),
        device=device,
        seed=int(seed),
        state_dir=Path("."),
        group_weights=table2_group_weights(t2),
    )
    return PromptGen().spec(ctx)


def method_names(t2: Mapping[str, Any], gen_name: str) -> list[str]:
    """The methods listed for ``gen_name`` (``table2.generator_methods``; default every method, of which the
    Table-2 plan keeps those the generator can run).

    Raises:
        ConfigError: a listed method is not a key of ``table2.methods``.
    """
    names = list((t2.get("generator_methods") or {}).get(gen_name) or t2["methods"])
    bad = [m for m in t2["methods"] if not re.fullmatch(r"[A-Za-z0-9_\-]+", str(m))]
    if bad:
        raise ConfigError(f"table2.methods: names must be letters, digits, '_' or '-', got {bad}")
    unknown = [m for m in names if m not in t2["methods"]]
    if unknown:
        raise ConfigError(
            f"table2.generator_methods.{gen_name}: {unknown} not in table2.methods {list(t2['methods'])}"
        )
    return names


def _model_entry(models: Mapping[str, Any], role: str, key: str) -> Mapping[str, Any]:
    if role not in models:
        raise ConfigError(f"{key}: no model {role!r} under models (roles: {', '.join(models)})")
    return models[role]


class _Setup:
    """The generator, the control classifier, the judges and the method of one Table-2 job."""

    def __init__(self, gen_name: str, gen_cfg: Mapping[str, Any], t2: Mapping[str, Any], models, device: str):
        self.device = resolve_device(device)
        self.gen_name, self.gen_cfg, self.t2 = gen_name, gen_cfg, t2
        self.control_role = t2["control_model"]
        self.control_entry = _model_entry(models, self.control_role, "table2.control_model")
        self.judge_entries = {r: _model_entry(models, r, "table2.judges") for r in t2["judges"]}
        self.attrs = list(t2["attributes"])
        self.groups = table2_groups(self.attrs)
        self.per = int(t2["samples_per_class"])
        self.threshold = t2["label_threshold"]
        self._generator = self._control = self._judges = None

    @property
    def generator(self):
        if self._generator is None:
            entry = self.gen_cfg["generator"]
            self._generator = build_generator(entry, psi=self.gen_cfg["psi_eval"], device=self.device)
        return self._generator

    def _build_models(self) -> None:
        cache = ModelCache(self.device)
        self._control = cache.get(self.control_entry, f"models.{self.control_role}")
        self._judges = {r: cache.get(e, f"models.{r}") for r, e in self.judge_entries.items()}

    @property
    def control(self):
        if self._control is None:
            self._build_models()
        return self._control

    @property
    def judges(self):
        if self._judges is None:
            self._build_models()
        return self._judges

    def oracle(self, z: torch.Tensor) -> dict[str, np.ndarray] | None:
        if not self.gen_cfg.get("oracle"):
            return None
        truth = import_oracle(self.gen_cfg, self.gen_name)(z.cpu(), self.gen_cfg["psi_eval"])
        return {a: truth[a].long().numpy() for a in self.attrs}

    @staticmethod
    def source(draws: Draws, pool: PriorPool | None) -> tuple[torch.Tensor, Callable | None]:
        """What a method's draws show: (codes, render), ``render`` None for the generator at ψ_eval.

        Pool rows are the pool's prior latents, whose images the pool was judged on; latents ``z`` are
        rendered by the method's own ``render`` where it gives one.
        """
        if draws.pool_index is not None:
            if pool is None:
                raise ValueError("sample() returned pool rows, and no pool was given")
            return pool.z[draws.pool_index], None
        if draws.z is None:
            raise ValueError("sample() returned Draws with neither pool_index nor z")
        return draws.z, draws.render

    def images(self, draws: Draws, pool: PriorPool | None) -> torch.Tensor:
        """The images of ``draws`` (:meth:`source`), (n, 3, H, W) in [−1, 1] on the CPU."""
        codes, render = self.source(draws, pool)
        render = render or self.generator
        device = next(iter(self.generator.buffers()), codes).device
        chunks = codes.split(int(self.t2["batch_size"]))
        return torch.cat([render(c.to(device)).float().cpu() for c in chunks])

    def judge(self, z: torch.Tensor, render=None) -> dict[str, dict[str, np.ndarray]]:
        """Labels per judge (and the oracle, for latents the generator renders)."""
        logps = judge_log_probs(self.generator, z, self.judges, self.attrs, self.t2["batch_size"], render)
        judged = {j: labels_from_log_probs(lp, self.threshold) for j, lp in logps.items()}
        truth = None if render is not None else self.oracle(z)
        if truth is not None:
            judged["oracle"] = truth
        return judged

    def method(self, name: str) -> DebiasMethod:
        where = f"table2.methods.{name}"
        method = build_method(self.t2["methods"][name], where)
        check_needs(name, method, self.gen_name, generator_provides(self.gen_cfg))
        return method

    def context(
        self, seed: int, state_dir: Path, pool: PriorPool | None, build: bool = True
    ) -> MethodContext:
        return MethodContext(
            generator=self.generator if build else None,
            control=self.control if build else None,
            attributes=self.attrs,
            weight=float(self.t2["weight"]),
            groups=self.groups,
            gen_cfg=self.gen_cfg,
            section=self.t2,
            control_entry=self.control_entry,
            device=str(self.device),
            seed=int(seed),
            state_dir=Path(state_dir),
            pool=pool,
            batch_size=int(self.t2["batch_size"]),
            group_weights=table2_group_weights(self.t2),
        )


@torch.no_grad()
def judge_pool(
    gen_name: str,
    gen_cfg: Mapping[str, Any],
    t2: Mapping[str, Any],
    models: Mapping[str, Any],
    path: str | Path,
    *,
    device: str = "auto",
    seed: int = 0,
) -> Path:
    """Render the prior pool z_i (seeded by (seed, i), i < ``table2.pool``) once and save, to ``path``, its
    latents, the control classifier's log-probabilities, every judge's labels and the oracle's."""
    setup = _Setup(gen_name, gen_cfg, t2, models, device)
    z = per_sample_normal(seed, range(int(t2["pool"])), setup.generator.latent_dim)
    judges = {**setup.judges, "_control": setup.control}
    logps = judge_log_probs(setup.generator, z, judges, setup.attrs, t2["batch_size"])
    control = logps.pop("_control")
    judged = {j: labels_from_log_probs(lp, setup.threshold) for j, lp in logps.items()}
    truth = setup.oracle(z)
    if truth is not None:
        judged["oracle"] = truth
    labels = {j: {a: torch.as_tensor(v) for a, v in lab.items()} for j, lab in judged.items()}
    torch.save({"z": z, "control": control, "labels": labels}, path)
    return Path(path)


def _load_pool(path: str | Path) -> tuple[PriorPool, dict[str, dict[str, np.ndarray]]]:
    data = torch.load(path, weights_only=True)
    labels = {j: {a: v.numpy() for a, v in lab.items()} for j, lab in data["labels"].items()}
    return PriorPool(z=data["z"], control=data["control"]), labels


def fit_method(
    gen_name: str,
    gen_cfg: Mapping[str, Any],
    t2: Mapping[str, Any],
    models: Mapping[str, Any],
    method_name: str,
    state_dir: str | Path,
    *,
    pool_path: str | Path | None = None,
    device: str = "auto",
    seed: int = 0,
) -> dict[str, str]:
    """Run a method's training stage into ``state_dir`` and write ``status.json`` there.

    Returns:
        ``{"status": "ok"}``, or ``{"status": "failed", "reason": ...}`` when the method raised (a config
        error is raised, not recorded).
    """
    setup = _Setup(gen_name, gen_cfg, t2, models, device)
    method = setup.method(method_name)
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    pool = _load_pool(pool_path)[0] if pool_path and "pool" in method.needs else None
    ctx = setup.context(seed, state_dir, pool)
    status = _guarded(method_name, lambda: method.fit(ctx))
    (state_dir / "status.json").write_text(json.dumps(status) + "\n")
    return status


def _guarded(method_name: str, call) -> dict[str, str]:
    try:
        call()
    except ConfigError:
        raise
    except Exception as err:  # noqa: BLE001 - one method's failure must not sink the table
        reason = f"{type(err).__name__}: {err}".replace("\n", " ")
        LOG.warning("table2 method %s failed: %s", method_name, reason)
        return {"status": "failed", "reason": reason}
    return {"status": "ok"}


def _fit_status(method: DebiasMethod, state_dir: Path) -> dict[str, str]:
    """A training method's recorded status (failed when its ``status.json`` is missing); ok otherwise."""
    if not method.trains:
        return {"status": "ok"}
    status_file = state_dir / "status.json"
    status = json.loads(status_file.read_text()) if status_file.is_file() else {"status": "failed"}
    status.setdefault("reason", f"{status_file} missing")
    return status


def _sample(
    setup: _Setup,
    method_name: str,
    method: DebiasMethod,
    requests: Mapping[str, torch.Tensor],
    state_dir: Path,
    pool: PriorPool | None,
    seed: int,
) -> tuple[dict[str, str], dict[str, Draws]]:
    """The method's draws for each batch of requests (one ``sample`` call each), after its training
    status; (status, {key: draws}), the draws made before a failure kept."""
    status = _fit_status(method, state_dir)
    ctx = setup.context(seed, state_dir, pool)
    results: dict[str, Draws] = {}

    def run() -> None:
        for key, batch in requests.items():
            draws = method.sample(ctx, batch, seed)
            if draws.pool_index is None and draws.z is None:
                raise ValueError("sample() returned Draws with neither pool_index nor z")
            results[key] = draws

    if status["status"] == "ok":
        status = _guarded(method_name, run)
    return status, results


def evaluate_method(
    gen_name: str,
    gen_cfg: Mapping[str, Any],
    t2: Mapping[str, Any],
    models: Mapping[str, Any],
    method_name: str,
    *,
    pool_path: str | Path | None,
    state_dir: str | Path,
    task: str = "columns",
    device: str = "auto",
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One method's rows on one (generator, seed) and task, judged by every judge (and the oracle).

    Returns:
        (rows: one per judge with ``kl_<column>`` and ``acc_<column>``; combinations: one per judge, column
        and requested combination with its count, accuracy and, where the method reports it, ``ess``).
    """
    if task not in ("columns", "joint"):
        raise ConfigError(f"table2 task: expected 'columns' or 'joint', got {task!r}")
    setup = _Setup(gen_name, gen_cfg, t2, models, device)
    method = setup.method(method_name)
    state_dir = Path(state_dir)
    pool, pool_labels = _load_pool(pool_path) if pool_path else (None, {})
    k = len(setup.attrs)
    groups = column_groups(setup.attrs)
    # each evaluated column -> the request group its samples were drawn for
    drawn = {c: c for c in groups}
    if task == "joint":
        drawn = {c: "joint" for c in groups} | {"joint": "joint"}
        groups = {**groups, "joint": tuple(range(k))}
    per = setup.per if task == "columns" else int(t2["joint_samples_per_class"])
    requests = {key: column_requests(k, groups[key], per) for key in dict.fromkeys(drawn.values())}
    status, draws_of = _sample(setup, method_name, method, requests, state_dir, pool, seed)
    results = {key: (requests[key], draws) for key, draws in draws_of.items()}
    base = {"generator": gen_name, "method": method_name, "seed": seed, "task": task}
    base["label_threshold"] = THRESHOLD_TEXT[setup.threshold]
    base.update(status if status["status"] != "ok" else {"status": "ok", "reason": ""})
    judges = [*setup.judge_entries, *(["oracle"] if gen_cfg.get("oracle") else [])]
    rows = {j: {**base, "judge": j} for j in judges}
    combos = []
    judged_draws = {}
    for key, (_, draws) in results.items():
        if draws.pool_index is not None:
            idx = draws.pool_index.numpy()
            judged_draws[key] = {j: {a: v[idx] for a, v in lab.items()} for j, lab in pool_labels.items()}
        else:
            judged_draws[key] = setup.judge(*setup.source(draws, pool))
    for col, key in drawn.items():
        if key not in results:  # the method failed before drawing this column
            continue
        requests, draws = results[key]
        for judge, labels in judged_draws[key].items():
            kl, acc, per = request_stats(labels, requests, setup.attrs, groups[col])
            row = rows.setdefault(judge, {**base, "judge": judge})
            row[f"N_{col}"] = len(requests)
            row[f"kl_{col}"] = kl
            row[f"acc_{col}"] = acc if method.conditional else np.nan
            for name, stat in per.items():
                combos.append(
                    {**base, "judge": judge, "column": col, "combination": name, "n": stat["n"]}
                    | {"accuracy": stat["accuracy"] if method.conditional else np.nan}
                    | {"ess": draws.stats.get(name, {}).get("ess", np.nan)}
                )
    cols = [*base, "judge", *[f"{p}_{c}" for c in drawn for p in ("N", "kl", "acc")]]
    frame = pd.DataFrame(list(rows.values())).reindex(columns=cols)
    if results:
        ess = pd.DataFrame(combos)["ess"]
        frame["ess_min"] = float(ess.min()) if ess.notna().any() else np.nan
    else:
        frame["ess_min"] = np.nan
    frame = frame.astype({c: "Int64" for c in frame.columns if c.startswith("N_")})
    combo_cols = [*base, "judge", "column", "combination", "n", "accuracy", "ess"]
    return frame, pd.DataFrame(combos, columns=combo_cols)


def method_images(
    gen_name: str,
    gen_cfg: Mapping[str, Any],
    t2: Mapping[str, Any],
    models: Mapping[str, Any],
    state_dirs: Mapping[str, str | Path],
    requests: Mapping[str, torch.Tensor],
    *,
    pool_path: str | Path | None,
    device: str = "auto",
    seed: int = 0,
) -> dict[str, tuple[dict[str, str], dict[str, torch.Tensor]]]:
    """Each method's samples as images, drawn as :func:`evaluate_method` draws the samples it judges (the
    sample grids show them): the same training status, ``sample`` calls and rendering of the draws.

    Arguments:
        state_dirs: method name -> its state folder (its training stage's output; for a method without one,
            a folder it may write to).
        requests: a key -> requests (n, k) over ``table2.attributes``, asked in one ``sample`` call.

    Returns:
        method name -> (status, {key: images (n, 3, H, W) in [−1, 1] on the CPU}); a method whose training
        failed, or that raised while sampling or rendering, has ``status`` ``failed``, its reason and no
        images.

    Raises:
        ConfigError: an unknown method, a method whose needs the generator does not provide, a missing model.
    """
    setup = _Setup(gen_name, gen_cfg, t2, models, device)
    pool = _load_pool(pool_path)[0] if pool_path else None
    out = {}
    for name, state_dir in state_dirs.items():
        status, draws = _sample(setup, name, setup.method(name), requests, Path(state_dir), pool, seed)
        images: dict[str, torch.Tensor] = {}

        def run(draws=draws, images=images) -> None:
            with torch.no_grad():
                images.update({key: setup.images(d, pool) for key, d in draws.items()})

        if status["status"] == "ok":
            status = _guarded(name, run)
        out[name] = (status, images if status["status"] == "ok" else {})
    return out


def aggregate_table2(
    frames: Iterable[pd.DataFrame], literature: bool = True, joint_classes: int | None = None
) -> pd.DataFrame:
    """Mean and std over seeds per (generator, method, judge), the i.i.d. reference KL, then literature rows.

    ``iid_reference_<single|pairs|joint>`` = (K − 1)/(2N) is the expected KL of N i.i.d. draws from the
    uniform over K classes: the KL an unconditional sampler that is exactly uniform shows. A stratified
    sampler (equal numbers requested per class) that always hits its class shows 0, so this is a reference
    value, not a floor. A method that failed on any seed keeps its row with ``status`` ``failed`` and the
    first reason.

    Arguments:
        joint_classes: K of the joint task (2^k), for its reference column.
    """
    df = pd.concat(list(frames), ignore_index=True)
    keys = ["generator", "method", "judge"]
    value_cols = [c for c in df.columns if c.startswith(("kl_", "acc_")) or c == "ess_min"]
    n_cols = [c for c in df.columns if c.startswith("N_")]
    df["reason"] = df["reason"].fillna("")
    grouped = df.groupby(keys, sort=False)
    mean = grouped[value_cols].mean()
    std = grouped[[c for c in value_cols if c.startswith("kl_")]].std(ddof=1).add_suffix("_std")
    meta = grouped.agg(
        task=("task", "first"),
        label_threshold=("label_threshold", "first"),
        seeds=("seed", "nunique"),
        status=("status", lambda s: "ok" if (s == "ok").all() else "failed"),
        reason=("reason", lambda s: next((r for r in s if r), "")),
    )
    n = grouped[n_cols].max()
    table = pd.concat([meta, n, mean, std], axis=1).reset_index()
    single = [c for c in n_cols if len(TABLE2_COLUMNS.get(c.removeprefix("N_"), ())) == 1]
    pairs = [c for c in n_cols if len(TABLE2_COLUMNS.get(c.removeprefix("N_"), ())) == 2]
    if single:
        table["iid_reference_single"] = [
            kl_noise_floor(2, int(v)) for v in table[single[0]].fillna(0).clip(1)
        ]
    if pairs:
        table["iid_reference_pairs"] = [kl_noise_floor(4, int(v)) for v in table[pairs[0]].fillna(0).clip(1)]
    if joint_classes and "N_joint" in n_cols:
        table["iid_reference_joint"] = [
            kl_noise_floor(joint_classes, int(v)) for v in table["N_joint"].fillna(0).clip(1)
        ]
    table["source"] = "measured"
    if literature:
        lit = literature_rows("table2").assign(
            judge="CelebA classifiers (paper)", status="ok", task="columns"
        )
        table = pd.concat([table, lit], ignore_index=True)
    return table.astype({"seeds": "Int64", **{c: "Int64" for c in n_cols}})
