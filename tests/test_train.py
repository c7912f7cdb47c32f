import csv

import pytest
import torch

from promptgen.checkpoint import load_inn
from promptgen.energies import Energy, EnergySum
from promptgen.energies.analytic import QuadraticEnergy
from promptgen.flows import INN
from promptgen.generators import IdentityGenerator
from promptgen.kl import estimate_kl
from promptgen.registry import ConfigError
from promptgen.train import NonFiniteLossError, TrainConfig, _Best, _dev_terms, _loss_terms, train


def _setup(seed: int = 0):
    energy = EnergySum({"q": (2.0, QuadraticEnergy(torch.ones(4), torch.eye(4)))})
    return IdentityGenerator(4), INN(4, blocks=2, hidden=16, seed=seed), energy


def test_resume_after_kill_is_exact(tmp_path) -> None:
    k = 7
    cfg = TrainConfig(steps=2 * k, batch_size=16, grad_accum=2, lr=1e-2, checkpoint_every=k, seed=3)
    gen, straight, energy = _setup()
    train(gen, straight, energy, cfg, tmp_path / "straight", progress=False)

    gen, first, energy = _setup()
    partial = train(gen, first, energy, cfg, tmp_path / "killed", progress=False, stop_after=k)
    assert partial.steps == k and not (tmp_path / "killed" / "inn.pt").exists()
    gen, resumed, energy = _setup()  # a fresh process: new, untrained INN
    train(gen, resumed, energy, cfg, tmp_path / "killed", progress=False)

    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with open(tmp_path / "killed" / "loss.csv") as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == list(range(1, 2 * k + 1))


def test_loss_log_has_every_term(tmp_path) -> None:
    gen, inn, energy = _setup()
    train(gen, inn, energy, TrainConfig(steps=3, batch_size=4), tmp_path, progress=False)
    with open(tmp_path / "loss.csv") as f:
        rows = list(csv.DictReader(f))
    assert set(rows[0]) >= {"step", "loss", "jac", "prior", "q", "lr", "grad_norm"}
    total = float(rows[0]["jac"]) + float(rows[0]["prior"]) + float(rows[0]["q"])
    assert float(rows[0]["loss"]) == pytest.approx(total, rel=1e-6)


class _LinearEnergy(Energy):
    """A matmul energy, which bfloat16 autocast runs in bfloat16."""

    def __init__(self):
        super().__init__()
        self.model = torch.nn.Linear(4, 1)

    def forward(self, inp):
        return self.model(inp.x.flatten(1)).squeeze(1) ** 2


def test_checkpoint_holds_inn_and_metadata_only(tmp_path) -> None:
    gen, inn, _ = _setup()
    energy = EnergySum({"frozen": (1.0, _LinearEnergy())})
    res = train(
        gen,
        inn,
        energy,
        TrainConfig(steps=2, batch_size=4),
        tmp_path,
        progress=False,
        metadata={"generator": {"kind": "identity", "latent_dim": 4}},
    )
    ckpt = torch.load(res.checkpoint, weights_only=True)
    assert set(ckpt) == {"format", "inn_config", "state_dict", "metadata"}
    assert all(not k.startswith("model") for k in ckpt["state_dict"])
    loaded, meta = load_inn(res.checkpoint)
    assert meta["generator"]["kind"] == "identity" and meta["steps"] == 2
    assert torch.equal(loaded.state_dict()["blocks.0.rotation"], inn.state_dict()["blocks.0.rotation"].cpu())


def test_non_finite_loss_names_the_term_and_keeps_state(tmp_path) -> None:
    class Explodes(Energy):
        def forward(self, inp):
            calls = getattr(self, "calls", 0) + 1
            self.calls = calls
            value = inp.x.flatten(1).sum(1)
            return value * float("nan") if calls > 3 else value

    gen, inn, _ = _setup()
    energy = EnergySum({"bad_term": (1.0, Explodes())})
    with pytest.raises(NonFiniteLossError, match=r"step 4: energy term 'bad_term'.*saved to"):
        train(
            gen,
            inn,
            energy,
            TrainConfig(steps=10, batch_size=4, checkpoint_every=100),
            tmp_path,
            progress=False,
        )
    state = torch.load(tmp_path / "train_state.pt", weights_only=False)
    assert state["step"] == 3
    with open(tmp_path / "loss.csv") as f:
        assert len(list(csv.DictReader(f))) == 3


def test_one_conditional_inn_learns_every_class_of_a_classifier_control(tmp_path) -> None:
    from promptgen.conditions import DiscreteCondition, build_condition
    from promptgen.energies.classifier import ConditionalClassifierEnergy

    class TwoHeads(torch.nn.Module):
        def forward(self, x):
            z = x.flatten(1)
            return {"a": 4 * z[:, 0], "b": 4 * z[:, 1]}

    condition = build_condition({"kind": "binary", "k": 2})
    assert isinstance(condition, DiscreteCondition) and condition.grid().tolist() == [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
    ]
    energy = EnergySum({"clf": (10.0, ConditionalClassifierEnergy(TwoHeads(), ["a", "b"]))})
    inn = INN(3, cond_dim=2, blocks=4, hidden=32)
    cfg = TrainConfig(steps=300, batch_size=128, lr=3e-3, checkpoint_every=300)
    train(IdentityGenerator(3), inn, energy, cfg, tmp_path, condition=condition, progress=False)
    cond = condition.grid(500)
    with torch.no_grad():
        z, _ = inn(torch.randn(len(cond), 3), cond)
    hits = ((z[:, :2] > 0).float() == cond).all(1).float().mean()
    assert hits > 0.9


def _rotation_only_inn(dim: int) -> INN:
    """An INN whose couplings are zero: z = R ε, so q is exactly N(0, I) (a rotated standard normal)."""
    inn = INN(dim, blocks=2, hidden=16, seed=1)
    for block in inn.blocks:
        last = block.subnet[-1]
        torch.nn.init.zeros_(last.weight)
        torch.nn.init.zeros_(last.bias)
    return inn


@pytest.mark.parametrize("estimator", ["reparam", "stl"])
def test_stl_gradient_vanishes_when_q_is_the_target(estimator) -> None:
    # no energy: the target is N(0, I), which this INN already is. Only STL sees that in every batch.
    inn = _rotation_only_inn(4)
    frozen = _rotation_only_inn(4).requires_grad_(False) if estimator == "stl" else None
    eps = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    terms, surrogate = _loss_terms(IdentityGenerator(4), inn, EnergySum({}), eps, None, None, None, frozen)
    surrogate.backward()
    grad = torch.cat([p.grad.flatten() for p in inn.parameters() if p.grad is not None]).norm()
    if estimator == "stl":
        assert grad < 1e-5
    else:
        assert grad > 1e-2
    # STL's surrogate differs from the logged loss by log N(ε), which does not depend on θ
    shift = 0.0 if estimator == "reparam" else float(-0.5 * (eps * eps).sum(1).mean())
    assert float(surrogate) == pytest.approx(float(sum(terms.values())) + shift, abs=1e-4)


@pytest.mark.parametrize("estimator", ["reparam", "stl"])
def test_both_estimators_fit_a_gaussian_target(tmp_path, estimator) -> None:
    gen, inn, energy = _setup()
    cfg = TrainConfig(steps=400, batch_size=128, lr=1e-2, estimator=estimator)
    train(gen, inn, energy, cfg, tmp_path, progress=False)
    est = estimate_kl(gen, inn, energy, n=16384, seed=1)
    assert abs(est.kl) < 0.02  # the estimate can dip a little below 0


@pytest.mark.parametrize("key", ["estimator", "energy_gradient"])
def test_unknown_gradient_option_is_a_one_line_error(key) -> None:
    with pytest.raises(ConfigError, match=f"train.{key}: expected one of"):
        TrainConfig.from_dict({key: "likelihood"})


class _Step(Energy):
    """−β·1[z₀ > 1]: a step function of z, flat (zero gradient) everywhere but on the step."""

    def forward(self, inp):
        return -2.0 * (inp.x.flatten(1)[:, 0] > 1.0).float()


@pytest.mark.parametrize("energy_gradient", ["path", "score"])
def test_score_gradient_moves_mass_across_a_step_energy(tmp_path, energy_gradient) -> None:
    # target share of z₀ > 1: 0.159 e² / (0.841 + 0.159 e²) = 0.58; N(0, I) has 0.159
    energy = EnergySum({"step": (1.0, _Step())})
    inn = INN(2, blocks=4, hidden=32, seed=0)
    cfg = TrainConfig(steps=300, batch_size=128, lr=1e-2, energy_gradient=energy_gradient)
    train(IdentityGenerator(2), inn, energy, cfg, tmp_path, progress=False)
    with torch.no_grad():
        z, _ = inn(torch.randn(20000, 2, generator=torch.Generator().manual_seed(1)))
    share = (z[:, 0] > 1).float().mean().item()
    if energy_gradient == "path":
        assert share < 0.2  # the pathwise gradient of a step is zero: nothing moves
    else:
        assert 0.4 < share < 0.7


class _Linear(Energy):
    def forward(self, inp):
        return 3.0 * inp.x.flatten(1)[:, 0]


def test_score_and_path_gradients_agree_on_a_smooth_energy() -> None:
    # both estimate ∇θ E_q[E]; with 200 000 samples their directions must coincide (the step energy above
    # is where only the score gradient is non-zero)
    inn = INN(2, blocks=4, hidden=32, seed=0)
    eps = torch.randn(200_000, 2, generator=torch.Generator().manual_seed(0))

    def energy_grad(energy: EnergySum, score: bool) -> torch.Tensor:
        inn.zero_grad()
        _loss_terms(IdentityGenerator(2), inn, energy, eps, None, None, None, None, score)[1].backward()
        return torch.cat([p.grad.flatten() for p in inn.parameters()])

    base = energy_grad(EnergySum({}), False)  # the prior and entropy terms, to subtract
    path, score = (energy_grad(EnergySum({"e": (1.0, _Linear())}), s) - base for s in (False, True))
    cos = float(path @ score / (path.norm() * score.norm()))
    assert cos > 0.999 and float(score.norm() / path.norm()) == pytest.approx(1.0, abs=0.02)


def test_a_state_file_of_another_configuration_is_not_resumed(tmp_path) -> None:
    gen, inn, energy = _setup()
    train(gen, inn, energy, TrainConfig(steps=5, batch_size=8, lr=1e-2), tmp_path, progress=False)
    gen, other, energy = _setup()
    res = train(gen, other, energy, TrainConfig(steps=5, batch_size=8, lr=3e-2), tmp_path, progress=False)
    with open(res.log) as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [1, 2, 3, 4, 5]  # trained again, from step 1
    assert float(load_inn(res.checkpoint)[1]["train"]["lr"]) == 3e-2
    pairs = zip(inn.state_dict().values(), other.state_dict().values(), strict=True)
    assert any(not torch.equal(a, b) for a, b in pairs)


class _ScaledGenerator(IdentityGenerator):
    """An identity generator with one weight, standing in for a checkpoint-backed generator."""

    def __init__(self, scale: float):
        super().__init__(4)
        self.scale = torch.nn.Parameter(torch.tensor(scale))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return super().forward(z) * self.scale


def test_a_state_file_trained_against_other_generator_weights_is_not_resumed(tmp_path) -> None:
    """Same config and metadata, other generator weights (a replaced checkpoint): train again from step 1."""
    cfg, meta = (
        TrainConfig(steps=5, batch_size=8, lr=1e-2),
        {"generator": {"kind": "x", "checkpoint": "g.pt"}},
    )
    _, inn, energy = _setup()
    train(_ScaledGenerator(1.0), inn, energy, cfg, tmp_path, metadata=meta, progress=False)
    first = load_inn(tmp_path / "inn.pt")[1]["generator_state"]
    _, again, energy = _setup(seed=1)  # another initialisation: only a resume gives back `inn`'s weights
    train(_ScaledGenerator(1.0), again, energy, cfg, tmp_path, metadata=meta, progress=False)
    pairs = zip(inn.state_dict().values(), again.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)  # the same weights: the finished state was resumed
    _, other, energy = _setup()
    res = train(_ScaledGenerator(0.5), other, energy, cfg, tmp_path, metadata=meta, progress=False)
    assert load_inn(res.checkpoint)[1]["generator_state"] != first
    pairs = zip(inn.state_dict().values(), other.state_dict().values(), strict=True)
    assert any(not torch.equal(a, b) for a, b in pairs)


def test_unknown_precision_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError, match="train.precision: unknown precision 'half'"):
        TrainConfig.from_dict({"precision": "half"})


def test_bf16_precision_runs_the_energy_in_bf16_and_returns_float32_terms() -> None:
    torch.manual_seed(0)
    energy = EnergySum({"lin": (1.0, _LinearEnergy())})
    seen = []
    energy.energies["lin"].model.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    gen, inn = IdentityGenerator(4), INN(4, blocks=2, hidden=16, seed=0)
    eps, rng = torch.randn(8, 4), torch.Generator().manual_seed(0)
    terms32, loss32 = _loss_terms(gen, inn, energy, eps, None, None, rng)
    terms16, loss16 = _loss_terms(gen, inn, energy, eps, None, None, rng, autocast=torch.bfloat16)
    assert seen == [torch.float32, torch.bfloat16]
    assert all(t.dtype == torch.float32 for t in terms16.values()) and loss16.dtype == torch.float32
    # the INN's own terms are computed in float32 either way; the energy agrees to bfloat16 rounding
    assert torch.equal(terms16["jac"], terms32["jac"]) and torch.equal(terms16["prior"], terms32["prior"])
    assert terms16["lin"].item() == pytest.approx(terms32["lin"].item(), rel=2e-2)
    loss16.backward()
    assert all(p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all() for p in inn.parameters())


def test_bf16_training_writes_a_float32_inn(tmp_path) -> None:
    energy = EnergySum({"lin": (1.0, _LinearEnergy())})
    gen, inn = IdentityGenerator(4), INN(4, blocks=2, hidden=16, seed=0)
    res = train(
        gen, inn, energy, TrainConfig(steps=3, batch_size=8, precision="bf16"), tmp_path, progress=False
    )
    inn2, meta = load_inn(res.checkpoint)
    assert meta["train"]["precision"] == "bf16"
    assert all(v.dtype == torch.float32 for v in inn2.state_dict().values() if v.is_floating_point())


@pytest.mark.parametrize("bad", [1.5, -0.1, "half", True])
def test_bad_energy_warmup_is_a_one_line_error(bad) -> None:
    with pytest.raises(ConfigError, match="train.energy_warmup: expected a fraction of the steps in"):
        TrainConfig.from_dict({"energy_warmup": bad})


def test_energy_warmup_ramps_the_energy_weights_then_trains_eq10(tmp_path) -> None:
    cfg = TrainConfig.from_dict({"steps": 10, "energy_warmup": 0.5})
    assert [cfg.energy_scale(t) for t in (0, 1, 4, 9)] == [0.2, 0.4, 1.0, 1.0]
    assert TrainConfig(steps=10).energy_scale(0) == 1.0
    logs = {}
    for warmup in (0.0, 0.5):
        gen, inn, energy = _setup()
        cfg = TrainConfig(steps=4, batch_size=16, lr=1e-2, energy_warmup=warmup)
        train(gen, inn, energy, cfg, tmp_path / str(warmup), progress=False)
        with open(tmp_path / str(warmup) / "loss.csv") as f:
            logs[warmup] = list(csv.DictReader(f))
    # step 1: same INN and ε, the energy term at half weight; the INN's own terms unchanged
    first, ramped = logs[0.0][0], logs[0.5][0]
    assert float(ramped["q"]) == pytest.approx(0.5 * float(first["q"]), rel=1e-6)
    assert float(ramped["jac"]) == pytest.approx(float(first["jac"]), rel=1e-6)
    assert logs[0.0][1]["q"] != logs[0.5][1]["q"]  # the ramp changed the first update


@pytest.mark.parametrize(
    ("key", "bad", "message"),
    [
        ("dev_every", -1, "train.dev_every: expected an integer ≥ 0, got -1"),
        ("dev_every", 2.5, "train.dev_every: expected an integer ≥ 0, got 2.5"),
        ("dev_samples", 0, "train.dev_samples: expected an integer ≥ 1, got 0"),
        ("dev_samples", "many", "train.dev_samples: expected an integer ≥ 1, got 'many'"),
        ("dev_metric", "kl", "train.dev_metric: expected one of loss, energy, got 'kl'"),
    ],
)
def test_bad_dev_settings_are_one_line_errors_naming_the_key(key, bad, message) -> None:
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({key: bad})
    assert str(err.value) == message


def _dev_rows(out) -> list[dict[str, str]]:
    with open(out / "dev.csv") as f:
        return list(csv.DictReader(f))


def test_without_a_dev_set_the_run_writes_no_dev_log_and_keeps_its_identity(tmp_path) -> None:
    gen, inn, energy = _setup()
    res = train(gen, inn, energy, TrainConfig(steps=3, batch_size=4), tmp_path, progress=False)
    assert not (tmp_path / "dev.csv").exists() and res.dev_step is None
    assert not any(k.startswith("dev_") for k in load_inn(res.checkpoint)[1]["train"])


@pytest.mark.parametrize("metric", ["loss", "energy"])
def test_the_final_inn_is_the_best_state_on_the_dev_set(tmp_path, metric) -> None:
    # lr 0.2 overshoots: the dev value is lowest at an early evaluation (step 2 or 4), not the last
    cfg = TrainConfig(steps=12, batch_size=16, lr=0.2, grad_clip=100.0, dev_every=2, dev_samples=40)
    cfg.dev_metric = metric
    gen, inn, energy = _setup()
    res = train(gen, inn, energy, cfg, tmp_path, progress=False)
    rows = _dev_rows(tmp_path)
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8, 10, 12]
    values = [float(r[f"metric_{metric}"]) for r in rows]
    best = 2 * (values.index(min(values)) + 1)  # the first of equal values
    assert res.dev_step == best < 12 and int(rows[-1]["best_step"]) == best
    for r in rows:  # the row's terms add up; the energy metric leaves out the INN's own terms
        terms = float(r["jac"]) + float(r["prior"]) + float(r["q"])
        assert float(r["loss"]) == pytest.approx(terms, rel=1e-6, abs=1e-6)
        own = float(r["q"]) if metric == "energy" else float(r["loss"])
        assert float(r[f"metric_{metric}"]) == pytest.approx(own, rel=1e-6, abs=1e-6)
    # inn.pt holds the state whose dev value is the minimum: evaluating it again gives that value
    saved, meta = load_inn(res.checkpoint)
    assert meta["dev"] == {"metric": metric, "step": best, "value": min(values)}
    again = _dev_terms(gen, saved, energy, cfg, None, "cpu", None)
    again_value = again["loss"] - (again["jac"] + again["prior"] if metric == "energy" else 0.0)
    assert again_value == pytest.approx(min(values), rel=1e-6)
    last = torch.load(tmp_path / "train_state.pt", weights_only=False)["inn"]
    assert any(not torch.equal(last[k], v) for k, v in saved.state_dict().items())


def test_the_dev_set_is_fixed_and_apart_from_the_training_stream(tmp_path) -> None:
    gen, inn, energy = _setup()
    cfg = TrainConfig(steps=4, batch_size=8, dev_every=2, dev_samples=24, seed=5)
    first = _dev_terms(gen, inn, energy, cfg, None, "cpu", None)
    assert _dev_terms(gen, inn, energy, cfg, None, "cpu", None) == first  # the same draws each time
    assert _dev_terms(gen, inn, energy, TrainConfig(dev_samples=24, seed=6), None, "cpu", None) != first
    # the same run with and without a dev set trains the same parameters
    for dev_every in (0, 2):
        gen, inn, energy = _setup()
        cfg = TrainConfig(steps=4, batch_size=8, dev_every=dev_every, seed=5)
        train(gen, inn, energy, cfg, tmp_path / str(dev_every), progress=False)
    losses = [(tmp_path / str(d) / "loss.csv").read_text().splitlines() for d in (0, 2)]
    assert [r.rsplit(",", 1)[0] for r in losses[0]] == [r.rsplit(",", 1)[0] for r in losses[1]]


def test_a_killed_run_with_a_dev_set_resumes_to_the_same_inn_and_logs(tmp_path) -> None:
    cfg = TrainConfig(
        steps=12, batch_size=16, lr=0.2, grad_clip=100.0, checkpoint_every=3, dev_every=2, dev_samples=40
    )
    gen, inn, energy = _setup()
    straight = train(gen, inn, energy, cfg, tmp_path / "straight", progress=False)
    for stop in (5, 8):  # the best state is step 2's (lr 0.2 overshoots): both resumes must keep it
        gen, inn, energy = _setup()
        train(gen, inn, energy, cfg, tmp_path / "killed", progress=False, stop_after=stop)
        with open(tmp_path / "killed" / "dev.csv", "ab") as f:  # a row a killed run wrote past its state
            f.write(b"99,1.0,1.0,1.0,1.0,1.0,99,0.1\n")
    gen, inn, energy = _setup()
    resumed = train(gen, inn, energy, cfg, tmp_path / "killed", progress=False)
    assert (resumed.dev_step, resumed.dev_value) == (straight.dev_step, straight.dev_value)
    a, b = ((tmp_path / d / "inn.pt").read_bytes() for d in ("straight", "killed"))
    assert a == b

    def without_seconds(d):
        return [r.rsplit(",", 1)[0] for r in (tmp_path / d / "dev.csv").read_text().splitlines()]

    assert without_seconds("killed") == without_seconds("straight")


def test_best_keeps_the_earliest_of_equal_dev_values_and_never_a_nan() -> None:
    best, inn = _Best(), INN(4, blocks=1, hidden=8, seed=0)
    for step, value in [(2, float("nan")), (4, 3.0), (6, 3.0), (8, float("nan")), (10, 5.0)]:
        best.offer(step, value, inn)
    assert (best.step, best.value) == (4, 3.0)
    assert (
        best.inn is not None
        and best.inn["blocks.0.global_scale"].data_ptr() != inn.blocks[0].global_scale.data_ptr()
    )
