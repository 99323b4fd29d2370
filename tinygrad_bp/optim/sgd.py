"""Stochastic gradient descent, as ``torch.optim.SGD``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..backend import xp
from .optimizer import Optimizer, check_flag, check_number, sub_scaled

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and L2.

    As ``torch.optim.SGD``, for each parameter ``p`` with gradient ``g``::

        g = -g                                         (maximize)
        d = g + weight_decay * p
        buf = d (first step), else momentum * buf + (1 - dampening) * d
        d = d + momentum * buf if nesterov else buf    (when momentum != 0)
        p = p - lr * d

    The options after ``momentum`` are keyword-only: PyTorch's positional order
    (``dampening`` before ``weight_decay``) differs from this API's first one, so a
    positional call is refused rather than read the other way round.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> w = tg.Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.SGD([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.data
    array([ 0.8, -1.6])
    """

    _state_keys = frozenset({"momentum_buffer"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        *,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        super()._check_group(group, where)
        group["momentum"] = check_number(where, "momentum", group["momentum"], 0.0)
        group["dampening"] = check_number(where, "dampening", group["dampening"], 0.0)
        group["weight_decay"] = check_number(where, "weight_decay", group["weight_decay"], 0.0)
        group["nesterov"] = check_flag(where, "nesterov", group["nesterov"])
        group["maximize"] = check_flag(where, "maximize", group["maximize"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{where}: nesterov needs momentum > 0 and dampening = 0")

    def step(self) -> None:
        for group in self.param_groups:
            lr = float(group["lr"])
            mu, wd = group["momentum"], group["weight_decay"]
            if mu == 0.0 and wd == 0.0 and not group["maximize"]:
                # plain SGD, the benchmark's hot path: p -= lr * g in place
                for p in group["params"]:
                    g = p.grad
                    if g is not None:
                        d = p.data
                        # (a wrong-shape .grad set by hand: a different size would broadcast
                        # silently; one of the same size fails in the in-place update)
                        if g.size != d.size:
                            self._grad(p, "SGD")
                        try:
                            sub_scaled(d, lr, g)
                        except ValueError:
                            self._grad(p, "SGD")
                            raise
                continue
            damp, nesterov, maximize = group["dampening"], group["nesterov"], group["maximize"]
            state = self.state._by_id
            for p in group["params"]:
                g = self._grad(p, "SGD")
                if g is None:
                    continue
                if maximize:
                    g = -g
                d = g + wd * p.data if wd != 0.0 else g
                if mu != 0.0:
                    entry = state.get(id(p))
                    st = entry[1] if entry is not None and entry[0] is p else self.state[p]
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = st["momentum_buffer"] = xp.array(d, copy=True)
                    else:
                        buf *= mu
                        buf += (1.0 - damp) * d
                    d = d + mu * buf if nesterov else buf
                sub_scaled(p.data, lr, d)
