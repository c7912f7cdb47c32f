"""StyleFlow (Abdal, Zhu, Mitra and Wonka, 2021, arXiv:2008.02401): an attribute-conditioned flow on W.

A normalising flow w = f(ε; a), ε ~ N(0, I), conditioned on the attribute vector a, is trained by maximum
likelihood on pairs (w, a) of generated samples labelled by a classifier; sampling at a target attribute
combination draws ε and maps it through f with that condition. StyleFlow's flow is a continuous normalising
flow; here the conditional coupling INN of :mod:`promptgen.flows` plays its role (same objective, another
flow family). W is standardised per dimension before the flow (a fixed affine map).

Attributes a request leaves free are filled from a training pair drawn at random among those that match
the requested ones (the empirical conditional of the free attributes), so that the condition is always a
full attribute vector, as in StyleFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from promptgen.flows import INN

__all__ = ["StyleFlow", "fill_free_attributes", "train_styleflow"]


@dataclass
class StyleFlow:
    """A trained conditional flow on standardised W: ``w = mean + std · f(ε; a)``."""

    inn: INN
    mean: Tensor
    std: Tensor

    def nll(self, w: Tensor, attrs: Tensor) -> Tensor:
        """Mean negative log-likelihood per dimension of ``w`` given ``attrs`` (nats, standardised W)."""
        return -self.inn.log_prob((w - self.mean) / self.std, attrs.float()).mean() / w.shape[1]

    @torch.no_grad()
    def sample(self, attrs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One w per row of the full attribute matrix ``attrs`` (n, k) of 0/1."""
        eps = torch.randn(attrs.shape[0], self.inn.dim, generator=generator)
        return self.mean + self.std * self.inn(eps, attrs.float())[0]

    def state_dict(self) -> dict:
        """Plain tensors and the INN's config (for ``torch.save``)."""
        return {"inn": self.inn.state_dict(), "config": self.inn.config, "mean": self.mean, "std": self.std}

    @classmethod
    def from_state_dict(cls, state: dict) -> StyleFlow:
        inn = INN.from_config(state["config"])
        inn.load_state_dict(state["inn"])
        return cls(inn.eval(), state["mean"], state["std"])


def train_styleflow(
    w: Tensor,
    attrs: Tensor,
    *,
    steps: int = 2000,
    batch_size: int = 256,
    lr: float = 1e-3,
    blocks: int = 8,
    hidden: int = 256,
    seed: int = 0,
) -> tuple[StyleFlow, list[float]]:
    """Maximum-likelihood training of the conditional flow on pairs (w_i, a_i).

    Arguments:
        w: codes (N, w_dim).
        attrs: their 0/1 attribute labels (N, k).
        steps, batch_size, lr: Adam with a cosine decay, minibatches drawn with ``seed``.
        blocks, hidden: the INN's coupling blocks and subnet width.
        seed: seed of the INN's initialisation and the minibatches.

    Returns:
        the flow and its training NLL (nats per dimension) every 100 steps.
    """
    mean, std = w.mean(0), w.std(0).clamp_min(1e-6)
    x, a = (w - mean) / std, attrs.float()
    inn = INN(w.shape[1], cond_dim=a.shape[1], blocks=blocks, hidden=hidden, seed=seed)
    opt = torch.optim.Adam(inn.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    history = []
    for step in range(steps):
        idx = torch.randint(0, len(x), (batch_size,), generator=gen)
        loss = -inn.log_prob(x[idx], a[idx]).mean() / x.shape[1]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0:
            history.append(loss.item())
    return StyleFlow(inn.eval().requires_grad_(False), mean, std), history


def fill_free_attributes(requests: Tensor, labels: Tensor, generator: torch.Generator) -> Tensor:
    """Full 0/1 conditions for ``requests`` (n, k) of 1/0/−1 (free): each row's free entries are copied
    from a random row of ``labels`` (N, k) that matches its requested entries.

    Raises:
        ValueError: when no labelled row matches a request.
    """
    out = requests.clone().float()
    unique, inverse = torch.unique(requests, dim=0, return_inverse=True)
    for u, req in enumerate(unique):
        fixed = req >= 0
        rows = torch.nonzero(inverse == u).flatten()
        if bool(fixed.all()):
            continue
        match = torch.nonzero((labels[:, fixed] == req[fixed][None]).all(dim=1)).flatten()
        if len(match) == 0:
            raise ValueError(f"styleflow: no labelled sample matches request {req.tolist()}")
        pick = match[torch.randint(0, len(match), (len(rows),), generator=generator)]
        out[rows[:, None], torch.nonzero(~fixed).flatten()[None]] = labels[pick][:, ~fixed].float()
    return out
