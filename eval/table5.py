"""Table 5 / Fig. 6: moment-constraint de-biasing of categorical attributes (tone bins, age groups).

Per (generator, attribute): fit β̂ of Eq. 7 so the tilted distribution has uniform class shares under the
categorical classifier's probabilities γ(x); train one INN per λ with E = −λ β̂·γ(x); report the class
shares (argmax of the classifier, and the oracle when the generator has one) and D_KL to uniform.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from eval.metric_kl import kl_to_uniform, shares
from eval.specs import control_spec
from promptgen.checkpoint import load_inn
from promptgen.device import resolve_device
from promptgen.energies import ModelCache
from promptgen.energies.classifier import ClassProbabilities
from promptgen.generators import build_generator
from promptgen.generators.composed import ComposedGenerator
from promptgen.moment import MomentFit, fit_beta
from promptgen.registry import import_oracle
from promptgen.sample import per_sample_normal

__all__ = ["class_labels", "fit_attribute", "moment_train_spec", "share_rows"]


def fit_attribute(
    gen_cfg: Mapping[str, Any],
    model: Mapping[str, Any],
    head: str,
    moment: Mapping[str, Any],
    device: str,
    seed: int,
) -> MomentFit:
    """β̂ for uniform shares of ``head`` on G at its training truncation."""
    dev = resolve_device(device)
    gen = build_generator(gen_cfg["generator"], psi=gen_cfg["psi_train"], device=dev)
    gamma = ClassProbabilities(ModelCache(dev).get(model, "models"), head)

    def features(n: int, rng: torch.Generator) -> torch.Tensor:
        return gamma(gen(torch.randn(n, gen.latent_dim, generator=rng).to(dev))).cpu()

    k = features(2, torch.Generator().manual_seed(0)).shape[1]
    return fit_beta(features, [1.0 / k] * k, seed=seed, **dict(moment))


def moment_train_spec(
    gen_cfg: Mapping[str, Any],
    model: Mapping[str, Any],
    head: str,
    beta_path: str,
    lam: float,
    t5: Mapping[str, Any],
    device: str,
    seed: int,
) -> dict[str, Any]:
    """Control spec of the moment-constraint INN (energy −λ β̂·γ(x))."""
    energy = {"kind": "moment", "weight": lam, "model": model, "head": head, "beta_hat": beta_path}
    return control_spec(gen_cfg, t5, {"moment": energy}, device, seed)


@torch.no_grad()
def class_labels(
    generator, z_or_eps: torch.Tensor, model: torch.nn.Module, head: str, batch_size: int
) -> np.ndarray:
    out = [model(generator(chunk))[head].argmax(-1).cpu().numpy() for chunk in z_or_eps.split(batch_size)]
    return np.concatenate(out)


def generator_with_inn(gen_cfg: Mapping[str, Any], psi: float, inn_path: str | None, device: torch.device):
    """G from a generator entry at truncation ``psi``, composed with the INN at ``inn_path`` when given."""
    base = build_generator(gen_cfg["generator"], psi=psi, device=device)
    return base if inn_path is None else ComposedGenerator(base, load_inn(inn_path, map_location=device)[0])


def share_rows(
    gen_name: str,
    gen_cfg: Mapping[str, Any],
    model: Mapping[str, Any],
    head: str,
    method: str,
    *,
    n: int,
    seed: int,
    device: str,
    inn_path: str | None = None,
    batch_size: int = 256,
) -> pd.DataFrame:
    """Class shares and KL to uniform of ``n`` samples of G (or G∘f), by classifier and oracle."""
    dev = resolve_device(device)
    gen = generator_with_inn(gen_cfg, gen_cfg["psi_eval"], inn_path, dev)
    clf = ModelCache(dev).get(model, "models")
    eps = per_sample_normal(seed, range(n), gen.latent_dim).to(dev)
    judged = {"classifier": class_labels(gen, eps, clf, head, batch_size)}
    if gen_cfg.get("oracle"):
        z = eps if inn_path is None else torch.cat([gen.root_latent(e) for e in eps.split(batch_size)])
        oracle = import_oracle(gen_cfg, gen_name)
        judged["oracle"] = oracle(z.cpu(), gen_cfg["psi_eval"])[head].long().numpy()
    k = int(torch.as_tensor(clf(gen(eps[:2]))[head]).shape[-1])
    rows = []
    for judge, labels in judged.items():
        row = {"generator": gen_name, "attribute": head, "method": method, "judge": judge, "N": n}
        row.update({f"share_{i}": float(s) for i, s in enumerate(shares(labels, k))})
        row["kl"] = kl_to_uniform(labels, k)
        rows.append(row)
    return pd.DataFrame(rows)
