"""MINE recovers known mutual information, stays finite, and has the paper's network."""

import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from ctc_plugin.analysis.mine import MINE_PROTOCOLS, MineNetwork, donsker_varadhan, estimate_mutual_information

# Sized to take ~5 s of CPU per estimate. 50k rows keep the network from memorising pairs
# (with 10k rows the bound on the training rows reads ~0.17 nats for independent data).
SETTINGS = dict(steps=2000, batch_size=500, lr=1e-3, hidden=128, layers=3, device="cpu")


@pytest.fixture(autouse=True)
def one_thread():
    # Small matmuls gain nothing from a second thread, and on a shared 2-core machine
    # two spinning threads per process turn seconds into minutes.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def correlated_gaussians(n: int, d: int, rho: float, seed: int):
    """X ~ N(0, I_d), Y = rho X + sqrt(1 - rho^2) E: I(X;Y) = -d/2 log(1 - rho^2)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = rho * x + math.sqrt(1 - rho**2) * torch.randn(n, d, generator=g)
    return x, y, -d / 2 * math.log(1 - rho**2)


def test_recovers_correlated_gaussians_within_10_percent():
    x, y, true_mi = correlated_gaussians(n=50000, d=4, rho=0.6, seed=1)  # 0.893 nats
    estimate = estimate_mutual_information(x, y, seed=0, **SETTINGS)
    assert abs(estimate - true_mi) < 0.10 * true_mi, (estimate, true_mi)


def test_independent_variables_give_about_zero():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(50000, 4, generator=g), torch.randn(50000, 4, generator=g)
    estimate = estimate_mutual_information(x, y, seed=0, **SETTINGS)
    assert 0.0 <= estimate < 0.05


def test_holdout_evaluates_on_rows_the_network_never_saw():
    # Few rows and many epochs: the bound on the training rows is inflated by memorisation,
    # the held-out bound is not.
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(2000, 4, generator=g), torch.randn(2000, 4, generator=g)
    settings = dict(SETTINGS, steps=600)
    on_training_rows = estimate_mutual_information(x, y, seed=0, protocol=MINE_PROTOCOLS["appendix"], **settings)
    held_out = estimate_mutual_information(x, y, seed=0, **settings)  # the default: half the rows held out
    assert held_out < 0.02 < on_training_rows


def test_huge_statistics_stay_finite():
    # Unstandardised inputs of scale 1e4 and a large lr push T to huge values: the
    # log-domain bound and moving average must not turn them into nan or inf.
    x, y, _ = correlated_gaussians(n=512, d=2, rho=0.9, seed=3)
    raw = replace(MINE_PROTOCOLS["appendix"], standardize=False)
    estimate = estimate_mutual_information(
        x * 1e4, y * 1e4, steps=30, batch_size=128, lr=1e-1, hidden=32, layers=2, protocol=raw, device="cpu"
    )
    assert math.isfinite(estimate) and estimate >= 0


def test_donsker_varadhan_of_a_constant_statistic_is_zero():
    t = torch.full((100,), 3.0)
    assert float(donsker_varadhan(t, t)) == pytest.approx(0.0, abs=1e-6)


def test_network_has_the_papers_shape_by_default():
    net = MineNetwork(3072, 512)  # I(X;T): 32x32x3 pixels + ResNet-18 features
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(3584, 1024), (1024, 1024), (1024, 1024), (1024, 1)]
    assert sum(isinstance(m, nn.ReLU) for m in net.modules()) == 3
    assert net(torch.zeros(5, 3072), torch.zeros(5, 512)).shape == (5,)


@pytest.mark.parametrize(
    "x, y",
    [
        (torch.zeros(10, 2), torch.zeros(9, 2)),  # unpaired
        (torch.zeros(10), torch.zeros(10, 2)),  # not 2-D
        (torch.full((10, 2), float("nan")), torch.zeros(10, 2)),  # not finite
    ],
)
def test_rejects_bad_inputs(x, y):
    with pytest.raises(ValueError):
        estimate_mutual_information(x, y, steps=1, batch_size=4, lr=1e-3, hidden=4, layers=2)


# ---- the release protocol, step by step (its mine.py) ---------------------------------------------
class _Recording(MineNetwork):
    """A statistics network that records the ``a`` rows of every call."""

    def __init__(self) -> None:
        super().__init__(1, 1, hidden=8, layers=2)
        self.calls = []

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        self.calls.append(a.detach().clone())
        return super().forward(a, b)


def test_release_marginal_draws_its_x_part_independently_of_the_joint_rows():
    from ctc_plugin.analysis.mine import _train

    rows = torch.arange(200.0).unsqueeze(1)  # each row names its index
    net = _Recording()
    protocol = MINE_PROTOCOLS["release"]
    _train(net, rows, rows, 1, 20, 1e-3, 0.01, protocol, torch.Generator().manual_seed(0), False, "test")
    joint_x, marginal_x = net.calls
    assert not torch.equal(joint_x, marginal_x)  # rel/mine.py: data[joint_index][:, :first_dim], a draw of its own


def test_release_estimate_is_the_window_before_the_last_bound_and_is_not_clipped(monkeypatch):
    from ctc_plugin.analysis import mine

    bounds = [-1.0] * 600 + [5.0]  # the release's ma(results)[-1] = mean(results[-501:-1]) = -1
    monkeypatch.setattr(mine, "_train", lambda *args, **kwargs: (list(bounds), 0))
    x = torch.randn(10, 2)
    settings = dict(steps=1, batch_size=5, lr=1e-3, device="cpu")
    assert estimate_mutual_information(x, x, protocol=MINE_PROTOCOLS["release"], **settings) == pytest.approx(-1.0)
    clipped = replace(MINE_PROTOCOLS["release"], clip_at_zero=True, skip_last=0)  # the other protocols' reading
    assert estimate_mutual_information(x, x, protocol=clipped, **settings) == 0.0


def test_release_moving_average_is_zero_after_a_non_finite_step():
    from ctc_plugin.analysis.mine import _MovingAverage

    # rel/mine.py: ma_et = 1; ma_et = 0.99 ma_et + 0.01 E; after a NaN step learn_mine returns ma_et = 0.
    ema = _MovingAverage(0.01, 1.0, MINE_PROTOCOLS["release"].ema_after_nan, "cpu")
    ema.update(torch.tensor(math.log(3.0)))
    assert math.exp(ema.log_value) == pytest.approx(0.99 + 0.01 * 3.0)
    ema.skip()
    ema.update(torch.tensor(math.log(5.0)))
    assert math.exp(ema.log_value) == pytest.approx(0.01 * 5.0)  # 0.99 x 0 + 0.01 x 5
    restart = _MovingAverage(0.01, 1.0, MINE_PROTOCOLS["heldout"].ema_after_nan, "cpu")
    restart.update(torch.tensor(math.log(3.0)))
    restart.skip()
    restart.update(torch.tensor(math.log(5.0)))
    assert math.exp(restart.log_value) == pytest.approx(0.99 + 0.01 * 5.0)  # the other protocols restart at 1


@pytest.mark.parametrize("bias, float32_exp", [(100.0, math.inf), (-200.0, 0.0)], ids=["overflow", "underflow"])
def test_release_protocol_trains_on_a_step_whose_float32_exp_is_inf_or_0(bias, float32_exp):
    from ctc_plugin.analysis.mine import _train

    # rel/mine.py takes exp(T) in float32: T > 88.7 gives inf (then inf / inf), all T < -103.9 give 0
    # (then log 0), the step is skipped and ma_et set to 0. Here the loss stays finite (fidelity.md).
    net = MineNetwork(1, 1, hidden=8, layers=2)
    with torch.no_grad():
        net.net[-1].bias.fill_(bias)
    rows = torch.randn(50, 1, generator=torch.Generator().manual_seed(0))
    assert (torch.exp(net(rows, rows)) == float32_exp).all()
    before = [p.detach().clone() for p in net.parameters()]
    protocol = MINE_PROTOCOLS["release"]
    bounds, skipped = _train(net, rows, rows, 1, 20, 1e-3, 0.01, protocol, torch.Generator().manual_seed(0), False, "t")
    assert skipped == 0 and len(bounds) == 1 and math.isfinite(bounds[0])  # kept, the moving average not reset
    assert any(not torch.equal(p, q) for p, q in zip(net.parameters(), before))  # trained on
