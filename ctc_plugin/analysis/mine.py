"""Mutual information neural estimation (MINE, Belghazi et al. 2018, arXiv 1801.04062).

The paper's information-plane analysis (appendix A.2) estimates I(X;T) and I(T;Y) with
MINE: a statistics network ``T_theta(a, b)`` is trained to maximise the Donsker-Varadhan
lower bound

    I(A;B) >= E_J[T] - log E_M[exp T],

where J is the joint distribution (paired rows) and M the product of the marginals
(rows of ``b`` shuffled against ``a``). The gradient of ``log E_M[exp T]`` on a mini-batch
is biased; MINE corrects it by dividing ``grad E_M[exp T]`` by an exponential moving
average of ``E_M[exp T]`` instead of the batch value. Everything here is done in the log
domain (``logsumexp``), so large statistics never overflow into ``inf``/``nan``.

The appendix's settings: 4 fully-connected layers, 1024 hidden units, ReLU, Adam,
batch 5000; lr 1e-4 for 10k steps for I(X;T) and lr 1e-5 for 20k steps for I(T;Y).

Which rows the estimate is read from is a ``MineProtocol``. The default ("heldout") trains on
half of the rows and evaluates the bound on the other half: a network that has memorised
pairs cannot report information there that is not in the data. "appendix" evaluates on the
rows it trained on (the paper's practice; biased upwards when the network memorises: 0.17
nats for independent data in tests/test_mine.py). "release" is the authors' mine.py: rows
drawn without replacement, the marginal's two parts each from a draw of its own, N(0, 0.02)
weights in all but the last layer, no standardisation, the moving average of E_M[exp T] set to
0 after a non-finite step, and the mean of the 500 mini-batch bounds before the last one, not
clipped at 0. One difference remains: the release's step is non-finite (skipped, the moving
average reset) only when its float32 ``exp`` of the marginal statistics overflows (some T > 88.7:
inf, then inf / inf = nan) or underflows (every T < -103.9: 0, then log 0). The log-domain loss
here stays finite in both cases, so under "release" such a step is trained on and the moving
average is not reset; with the N(0, 0.02) initialisation it is rare.
"""

import logging
import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
from torch import nn

from ..utils.device import resolve_device
from .progress import progress as progress_of

logger = logging.getLogger(__name__)

__all__ = ["MINE_PROTOCOLS", "MineNetwork", "MineProtocol", "donsker_varadhan", "estimate_mutual_information"]


@dataclass(frozen=True)
class MineProtocol:
    """How a MINE estimate is made.

    Attributes:
        holdout: fraction of the rows kept out of training, on which the bound is evaluated
            (0: evaluated on the training rows).
        estimate: "bound", the bound of the trained network over the evaluation rows (marginals
            from ``eval_passes`` shuffles); or "moving_average", the mean of the last ``window``
            mini-batch bounds of training.
        window: the moving average's length.
        marginal: "shuffle", the batch's ``b`` rows permuted; "independent", the ``a`` rows of
            a second draw and the ``b`` rows of a third, each independent of the joint rows.
        without_replacement: draw a batch's rows without replacement (else with).
        init_std: N(0, init_std) weights and zero biases in every layer but the last (0: PyTorch's).
        standardize: standardise every column first (an invertible per-column map: MI-invariant).
        ema_start: the moving average of E_M[exp T] starts at this value (None: the first batch's).
        ema_after_nan: after a non-finite step the moving average "restarts" as at the start, or
            is set to "zero" (the release: the next batch then gives it ``ema_rate`` x its value).
        skip_last: the "moving_average" window ends this many bounds before the last.
        clip_at_zero: report max(estimate, 0), as mutual information is non-negative.
    """

    holdout: float = 0.5
    estimate: str = "bound"
    window: int = 500
    marginal: str = "shuffle"
    without_replacement: bool = False
    init_std: float = 0.0
    standardize: bool = True
    ema_start: Optional[float] = None
    ema_after_nan: str = "restart"
    skip_last: int = 0
    clip_at_zero: bool = True


MINE_PROTOCOLS = {
    "heldout": MineProtocol(),
    "appendix": MineProtocol(holdout=0.0),
    "release": MineProtocol(
        holdout=0.0,
        estimate="moving_average",
        marginal="independent",
        without_replacement=True,
        init_std=0.02,
        standardize=False,
        ema_start=1.0,
        ema_after_nan="zero",
        skip_last=1,  # ma(results)[-1] is the mean of results[-501:-1]
        clip_at_zero=False,
    ),
}


class MineNetwork(nn.Module):
    """The statistics network: an MLP on the concatenation ``[a, b]`` with a scalar output.

    Args:
        dim_a: width of the first variable.
        dim_b: width of the second variable.
        hidden: width of every hidden layer (1024 in the paper).
        layers: number of fully-connected layers, output layer included (4 in the paper).
    """

    def __init__(self, dim_a: int, dim_b: int, hidden: int = 1024, layers: int = 4) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"MINE needs at least one layer, got {layers}")
        widths = [dim_a + dim_b] + [hidden] * (layers - 1) + [1]
        blocks = []
        for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:])):
            blocks.append(nn.Linear(w_in, w_out))
            if i < layers - 1:
                blocks.append(nn.ReLU(inplace=True))
        self.net = nn.Sequential(*blocks)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([a, b], dim=1)).squeeze(1)  # (B,)


def _log_mean_exp(t: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(t, dim=0) - math.log(t.numel())


def donsker_varadhan(t_joint: torch.Tensor, t_marginal: torch.Tensor) -> torch.Tensor:
    """The Donsker-Varadhan bound ``mean(t_joint) - log mean(exp(t_marginal))``."""
    return t_joint.mean() - _log_mean_exp(t_marginal)


def _standardize(z: torch.Tensor) -> torch.Tensor:
    # An invertible per-column affine map leaves the mutual information unchanged and
    # makes the statistics network's job far easier (raw pixels vs. ReLU features).
    std = z.std(dim=0, keepdim=True)
    return (z - z.mean(dim=0, keepdim=True)) / torch.where(std > 0, std, torch.ones_like(std))


@torch.no_grad()
def _evaluate(net: MineNetwork, a: torch.Tensor, b: torch.Tensor, chunk: int, passes: int, generator) -> float:
    """The bound of a fixed network over all rows, marginals from ``passes`` shuffles."""
    n = a.shape[0]
    t_joint = torch.cat([net(a[i : i + chunk], b[i : i + chunk]) for i in range(0, n, chunk)])
    t_marginal = []
    for _ in range(passes):
        perm = torch.randperm(n, generator=generator).to(b.device)
        t_marginal += [net(a[i : i + chunk], b[perm[i : i + chunk]]) for i in range(0, n, chunk)]
    return float(donsker_varadhan(t_joint.double(), torch.cat(t_marginal).double()))


def _initialise(net: MineNetwork, std: float) -> None:
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for layer in linears[:-1]:
            layer.weight.normal_(0.0, std)
            layer.bias.zero_()


def _window_mean(bounds: List[float], window: int, skip_last: int) -> float:
    """The mean of the ``window`` bounds that end ``skip_last`` before the last (all there are if fewer)."""
    kept = bounds[: len(bounds) - skip_last] if len(bounds) > skip_last else bounds
    return sum(kept[-window:]) / len(kept[-window:])


def _split_rows(x, y, holdout: float, generator) -> Tuple[torch.Tensor, ...]:
    """(x_train, y_train, x_eval, y_eval): a random ``holdout`` fraction kept out for evaluation."""
    if holdout <= 0:
        return x, y, x, y
    n = x.shape[0]
    perm = torch.randperm(n, generator=generator).to(x.device)
    n_eval = min(n - 2, max(2, round(n * holdout)))
    return x[perm[n_eval:]], y[perm[n_eval:]], x[perm[:n_eval]], y[perm[:n_eval]]


def _draw(n: int, size: int, protocol: MineProtocol, generator) -> torch.Tensor:
    if protocol.without_replacement:
        return torch.randperm(n, generator=generator)[:size]
    return torch.randint(n, (size,), generator=generator)


class _MovingAverage:
    """The log of the moving average of E_M[exp T] (MINE's gradient correction), in the log domain.

    Args:
        rate: weight of the current batch.
        start: the first value (None: the first batch's).
        after_nan: what a non-finite step leaves: "restart" (``start`` again) or "zero".
    """

    def __init__(self, rate: float, start: Optional[float], after_nan: str, device) -> None:
        if after_nan not in ("restart", "zero"):
            raise ValueError(f"ema_after_nan must be 'restart' or 'zero', got {after_nan!r}")
        self.log_rate, self.log_keep = math.log(rate), math.log1p(-rate) if rate < 1 else -math.inf
        self.start = None if start is None else torch.tensor(math.log(start), device=device)
        self.after_nan = after_nan
        self.log_value = self.start

    @torch.no_grad()
    def update(self, log_batch: torch.Tensor) -> torch.Tensor:
        """Fold in a batch's log E_M[exp T]; returns the new log average."""
        log_batch = log_batch.detach()
        if self.log_value is None:
            self.log_value = log_batch
        else:
            self.log_value = torch.logaddexp(self.log_keep + self.log_value, self.log_rate + log_batch)
        return self.log_value

    def skip(self) -> None:
        """After a non-finite step."""
        if self.after_nan == "zero":
            self.log_value = torch.full_like(self.log_value, -math.inf)  # log 0
        else:
            self.log_value = self.start


def _train(net, x, y, steps, batch_size, lr, ema_rate, protocol, generator, progress, desc) -> Tuple[List[float], int]:
    """Adam with MINE's bias-corrected gradient; returns (the mini-batch bounds, skipped steps).

    The bounds are kept only for the "moving_average" estimate (reading them syncs the device).
    """
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    ema = _MovingAverage(ema_rate, protocol.ema_start, protocol.ema_after_nan, x.device)
    n, bounds, skipped = x.shape[0], [], 0
    net.train()
    for _ in progress_of(range(steps), desc, enabled=progress):
        rows = _draw(n, batch_size, protocol, generator).to(x.device)
        if protocol.marginal == "independent":  # the release: both parts of the marginal drawn afresh
            a_rows = _draw(n, batch_size, protocol, generator).to(x.device)
            others = _draw(n, batch_size, protocol, generator).to(x.device)
        else:
            a_rows, others = rows, rows[torch.randperm(batch_size, generator=generator).to(x.device)]
        t_joint = net(x[rows], y[rows])
        log_mean_exp = _log_mean_exp(net(x[a_rows], y[others]))  # over a product-of-marginals sample
        log_ema = ema.update(log_mean_exp)
        # grad of exp(lme - log_ema) is grad E_M[e^T] / ema: the bias-corrected gradient.
        # After the first step lme - log_ema <= -log(ema_rate): the exponent never overflows.
        loss = -(t_joint.mean() - torch.exp(log_mean_exp - log_ema))
        if not torch.isfinite(loss):
            skipped += 1
            ema.skip()
            continue
        if protocol.estimate == "moving_average":  # the bound of this batch, before the update
            bounds.append(float(t_joint.detach().mean() - log_mean_exp.detach()))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return bounds, skipped


def estimate_mutual_information(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    hidden: int = 1024,
    layers: int = 4,
    seed: int = 0,
    ema_rate: float = 0.01,
    protocol: MineProtocol = MINE_PROTOCOLS["heldout"],
    eval_passes: int = 4,
    device: Optional[str] = None,
    progress: bool = False,
    desc: str = "MINE",
) -> float:
    """Estimate I(X;Y) in nats from paired rows of ``x`` (N, Dx) and ``y`` (N, Dy).

    A fresh statistics network is trained with Adam for ``steps`` mini-batches of
    ``batch_size`` paired rows, with MINE's moving-average gradient correction; the estimate
    is read as ``protocol`` says (see ``MineProtocol``) and, unless the protocol says otherwise,
    clipped below at 0, since MI is non-negative.

    Args:
        x, y: 2-D tensors with the same number of rows; rows are samples.
        steps: optimisation steps (paper: 10k for I(X;T), 20k for I(T;Y)).
        batch_size: rows per step, capped at the training rows (paper: 5000).
        lr: Adam learning rate (paper: 1e-4 for I(X;T), 1e-5 for I(T;Y)).
        hidden, layers: the statistics network (paper: 1024, 4).
        seed: seeds the network's initialisation and every sampling.
        ema_rate: weight of the current batch in the moving average of E_M[exp T].
        protocol: where the estimate is read (default: on held-out rows).
        eval_passes: shuffles used for the marginal term of the "bound" estimate.
        device: where to train; default CUDA when available, else CPU.
        progress: show progress (a tqdm bar on a terminal, log lines otherwise).
        desc: label of the progress bar and log lines.

    Returns:
        The estimate in nats; ``nan`` only if every step was non-finite.
    """
    if x.dim() != 2 or y.dim() != 2:
        raise ValueError(f"x and y must be 2-D, got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same rows, got {x.shape[0]} and {y.shape[0]}")
    if x.shape[0] < 2:
        raise ValueError(f"MINE needs at least 2 samples, got {x.shape[0]}")
    if not 0 <= protocol.holdout < 1:
        raise ValueError(f"holdout must lie in [0, 1), got {protocol.holdout}")
    if steps < 1 or batch_size < 2 or lr <= 0 or not 0 < ema_rate <= 1:
        raise ValueError(f"bad MINE settings: steps={steps}, batch_size={batch_size}, lr={lr}, ema_rate={ema_rate}")
    device = device or resolve_device("auto")
    x = x.detach().to(device=device, dtype=torch.float32)
    y = y.detach().to(device=device, dtype=torch.float32)
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError("x and y must be finite (found nan or inf)")
    if protocol.standardize:
        x, y = _standardize(x), _standardize(y)
    generator = torch.Generator().manual_seed(seed)
    x, y, x_eval, y_eval = _split_rows(x, y, protocol.holdout, generator)
    if batch_size > x.shape[0]:
        logger.info(f"{desc}: batch size {batch_size} capped at the {x.shape[0]} training samples")
        batch_size = x.shape[0]
    with torch.random.fork_rng(devices=[]):  # initialised on the CPU: only its RNG is used
        torch.manual_seed(seed)
        net = MineNetwork(x.shape[1], y.shape[1], hidden, layers)
        if protocol.init_std:
            _initialise(net, protocol.init_std)
    bounds, skipped = _train(net.to(device), x, y, steps, batch_size, lr, ema_rate, protocol, generator, progress, desc)
    if skipped:
        logger.warning(f"{desc}: skipped {skipped}/{steps} non-finite steps")
    if skipped == steps:
        return float("nan")
    if protocol.estimate == "moving_average":
        estimate = _window_mean(bounds, protocol.window, protocol.skip_last)
    else:
        net.eval()
        chunk = max(batch_size, 1024)
        estimate = _evaluate(net, x_eval, y_eval, chunk=chunk, passes=eval_passes, generator=generator)
    if not math.isfinite(estimate):
        logger.warning(f"{desc}: the final estimate is not finite")
        return float("nan")
    return max(estimate, 0.0) if protocol.clip_at_zero else estimate
