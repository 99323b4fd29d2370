"""Adam and AdamW, as ``torch.optim.Adam`` and ``torch.optim.AdamW``."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..backend import xp
from .optimizer import Optimizer, check_flag, check_number

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (``weight_decay`` is L2: added to the gradient)::

        g = g + weight_decay * p          (decoupled_weight_decay: p = p (1 − lr wd))
        m = β1 m + (1 − β1) g;   v = β2 v + (1 − β2) g²
        v̂ = max(v̂, v) with amsgrad, else v
        p = p − lr / (1 − β1ᵗ) · m / (√v̂ / √(1 − β2ᵗ) + eps)

    ``t`` counts each parameter's own steps (``state[p]["step"]``).  The arithmetic is
    done in the parameter's dtype (float32 stays float32).

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> w = tg.Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()  # the first step moves each weight by lr against its gradient's sign
    >>> w.data
    array([ 0.9, -1.9])
    """

    _state_keys = frozenset({"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"})
    _required_state_keys = frozenset({"step", "exp_avg", "exp_avg_sq"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        super()._check_group(group, where)
        betas = group["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"{where}: betas must be a pair of floats, got {betas!r}")
        group["betas"] = (
            check_number(where, "betas[0]", betas[0], 0.0, 1.0),
            check_number(where, "betas[1]", betas[1], 0.0, 1.0),
        )
        group["eps"] = check_number(where, "eps", group["eps"], 0.0)
        group["weight_decay"] = check_number(where, "weight_decay", group["weight_decay"], 0.0)
        group["amsgrad"] = check_flag(where, "amsgrad", group["amsgrad"])
        group["maximize"] = check_flag(where, "maximize", group["maximize"])
        group["decoupled_weight_decay"] = check_flag(
            where, "decoupled_weight_decay", group["decoupled_weight_decay"]
        )

    def step(self) -> None:
        name = type(self).__name__
        state = self.state
        by_id = state._by_id
        for group in self.param_groups:
            lr = float(group["lr"])
            b1, b2 = group["betas"]
            eps, wd = group["eps"], group["weight_decay"]
            amsgrad, maximize = group["amsgrad"], group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            for p in group["params"]:
                g = self._grad(p, name)
                if g is None:
                    continue
                d = p.data
                if maximize:
                    g = -g
                if wd != 0.0:
                    if decoupled:
                        d *= 1.0 - lr * wd
                    else:
                        g = g + wd * d
                entry = by_id.get(id(p))
                st = entry[1] if entry is not None and entry[0] is p else state[p]
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = xp.zeros_like(d)
                    st["exp_avg_sq"] = xp.zeros_like(d)
                    if amsgrad:
                        st["max_exp_avg_sq"] = xp.zeros_like(d)
                t = st["step"] = st["step"] + 1
                m, v = st["exp_avg"], st["exp_avg_sq"]
                m *= b1
                m += (1.0 - b1) * g
                v *= b2
                tmp = xp.empty_like(d)  # (g * g would be a NumPy scalar for a 0-d parameter)
                xp.multiply(g, g, out=tmp)
                tmp *= 1.0 - b2
                v += tmp
                if amsgrad:
                    vmax = st.get("max_exp_avg_sq")
                    if vmax is None:
                        vmax = st["max_exp_avg_sq"] = xp.zeros_like(d)
                    xp.maximum(vmax, v, out=vmax)
                    v = vmax
                step_size = lr / (1.0 - b1**t)
                # denom = sqrt(v) / sqrt(1 - b2^t) + eps, then p -= step_size * m / denom,
                # in one scratch array
                xp.sqrt(v, out=tmp)
                tmp /= math.sqrt(1.0 - b2**t)
                tmp += eps
                xp.divide(m, tmp, out=tmp)
                tmp *= step_size
                d -= tmp


class AdamW(Adam):
    """AdamW, as ``torch.optim.AdamW``: Adam with decoupled weight decay (Loshchilov &
    Hutter, 2019), each step first shrinking the weights, ``p = p (1 − lr · wd)``, then
    taking Adam's step with the plain gradient.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> w = tg.Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()  # (1 - 0.1 * 0.5) * w, then Adam's first step of lr
    >>> w.data
    array([ 0.85, -1.8 ])
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        super()._check_group(group, where)
        if not group["decoupled_weight_decay"]:
            raise ValueError(f"{where}: AdamW's weight decay is always decoupled")
