"""Table 2 logic: requests for each column, judging samples, KL to uniform and per-combination accuracy.

A column (gender, eyeglasses, blond, age+gender, age+eyeglasses, gender+eyeglasses) asks for equal numbers
of samples of every combination of its attributes, the other attributes free (the paper's protocol). A
request is a row of k values over the table's attributes: 1 (on), 0 (off) or −1 (free)
(:func:`promptgen.conditions.partial_targets`). The joint task (our extension) asks for every combination
of all k attributes at once.

Labels are thresholded probabilities: ``ours`` (P ≥ 0.5, the default) or ``authors`` (the paper's
evaluator thresholds the raw logit at 0.5, i.e. P ≥ 0.622); :data:`THRESHOLDS` names both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from eval.metric_kl import joint_labels, kl_to_uniform
from promptgen.conditions import partial_targets
from promptgen.energies.classifier import class_log_probs
from promptgen.generators import Generator
from promptgen.registry import ConfigError

__all__ = [
    "TABLE2_COLUMNS",
    "THRESHOLDS",
    "column_groups",
    "column_requests",
    "combination_name",
    "judge_log_probs",
    "kl_columns",
    "labels_from_log_probs",
    "request_stats",
]

# Table 2 columns -> the binary attributes they combine (age = the ``young`` head).
TABLE2_COLUMNS: dict[str, tuple[str, ...]] = {
    "gender": ("male",),
    "eyeglasses": ("eyeglasses",),
    "blond": ("blond",),
    "age_gender": ("young", "male"),
    "age_eyeglasses": ("young", "eyeglasses"),
    "gender_eyeglasses": ("male", "eyeglasses"),
}

# Label rules: the logit of the positive class must reach this value (P ≥ sigmoid of it).
THRESHOLDS: dict[str, float] = {"ours": 0.0, "authors": 0.5}
THRESHOLD_TEXT = {"ours": "P>=0.5", "authors": "logit>=0.5 (P>=0.622)"}


def column_groups(attributes: Sequence[str], columns: Mapping[str, Sequence[str]] = TABLE2_COLUMNS) -> dict:
    """Column name -> indices of its attributes in ``attributes``.

    Raises:
        ConfigError: a column's attribute is not one of ``table2.attributes``.
    """
    out = {}
    for col, attrs in columns.items():
        missing = [a for a in attrs if a not in attributes]
        if missing:
            raise ConfigError(f"table2.attributes: column {col!r} needs {missing}, not in {list(attributes)}")
        out[col] = tuple(list(attributes).index(a) for a in attrs)
    return out


def column_requests(k: int, group: Sequence[int], per_class: int) -> Tensor:
    """Requests (n, k) of one column: each combination of its attributes ``per_class`` times, others free."""
    return partial_targets(k, group, per_class)


def combination_name(attributes: Sequence[str], request: Tensor) -> str:
    """``young=1,male=0`` for one request row (free attributes left out)."""
    return ",".join(f"{a}={int(v)}" for a, v in zip(attributes, request.tolist(), strict=True) if v >= 0)


def kl_columns(
    labels: Mapping[str, np.ndarray], columns: Mapping[str, Sequence[str]] = TABLE2_COLUMNS
) -> dict:
    """D_KL(empirical ‖ uniform) per column from 0/1 label arrays."""
    out = {}
    for col, attrs in columns.items():
        joint, k = joint_labels([labels[a] for a in attrs], [2] * len(attrs))
        out[col] = kl_to_uniform(joint, k)
    return out


@torch.no_grad()
def judge_log_probs(
    generator: Generator,
    z: Tensor,
    judges: Mapping[str, nn.Module],
    heads: Sequence[str],
    batch_size: int = 256,
    render=None,
) -> dict[str, dict[str, Tensor]]:
    """log P(class | image), (N, K) float32 on the CPU, per judge and head; each image is rendered once.

    Arguments:
        generator: renders ``z`` unless ``render`` is given.
        z: latents (or a method's own codes, with ``render``).
        render: codes -> images in [−1, 1] (e.g. a style-space synthesis); default ``generator``.
    """
    out = {j: {h: [] for h in heads} for j in judges}
    device = next(iter(generator.buffers()), z).device
    render = render or generator
    for chunk in z.split(batch_size):
        images = render(chunk.to(device))
        for name, clf in judges.items():
            logits = clf(images)
            for h in heads:
                out[name][h].append(class_log_probs(logits[h]).float().cpu())
    return {j: {h: torch.cat(v) for h, v in logps.items()} for j, logps in out.items()}


def labels_from_log_probs(logps: Mapping[str, Tensor], threshold: str = "ours") -> dict[str, np.ndarray]:
    """0/1 labels per binary head from one judge's log-probabilities (:func:`judge_log_probs`).

    Arguments:
        threshold: ``ours`` (P(positive) ≥ 0.5) or ``authors`` (logit ≥ 0.5, P ≥ 0.622).
    """
    if threshold not in THRESHOLDS:
        raise ConfigError(f"table2.label_threshold: expected one of {list(THRESHOLDS)}, got {threshold!r}")
    cut = THRESHOLDS[threshold]
    return {h: ((lp[:, 1] - lp[:, 0]) >= cut).numpy().astype(np.int64) for h, lp in logps.items()}


def request_stats(
    labels: Mapping[str, np.ndarray], requests: Tensor, attributes: Sequence[str], group: Sequence[int]
) -> tuple[float, float, dict[str, dict[str, float]]]:
    """KL to uniform of the group's joint labels, the share of samples whose labels equal the requested
    ones, and per requested combination its count and accuracy.

    Arguments:
        labels: 0/1 label arrays per attribute, one per request row.
        requests: (n, k) rows of 1 / 0 / −1 (:func:`column_requests`).
        group: indices of the attributes the column judges.

    Returns:
        (kl, accuracy, {combination: {"n": count, "accuracy": share}}).
    """
    names = [attributes[i] for i in group]
    joint, k = joint_labels([labels[a] for a in names], [2] * len(names))
    wanted = requests[:, list(group)].numpy().astype(np.int64)
    got = np.stack([labels[a] for a in names], axis=1)
    hit = (got == wanted).all(axis=1)
    per = {}
    keys = [combination_name(attributes, r) for r in requests]
    for key in dict.fromkeys(keys):
        rows = np.array([kk == key for kk in keys])
        per[key] = {"n": int(rows.sum()), "accuracy": float(np.mean(hit[rows]))}
    return kl_to_uniform(joint, k), float(np.mean(hit)), per
