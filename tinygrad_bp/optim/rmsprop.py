"""RMSprop, as ``torch.optim.RMSprop``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..backend import xp
from .optimizer import Optimizer, check_flag, check_number

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), as ``torch.optim.RMSprop``::

        g = g + weight_decay * p
        s = α s + (1 − α) g²
        centered:  a = α a + (1 − α) g;   denom = √(s − a²) + eps
        otherwise: denom = √s + eps
        momentum > 0:  buf = momentum · buf + g / denom;  p = p − lr · buf
        otherwise:     p = p − lr · g / denom

    Note that ``eps`` is added outside the square root, as PyTorch does.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> w = tg.Tensor([1.0], requires_grad=True)
    >>> opt = tg.optim.RMSprop([w], lr=0.01, alpha=0.75, eps=0.0)
    >>> w.grad = tg.Tensor([2.0]).data
    >>> opt.step()  # s = 0.25 * 4 = 1, so the step is lr * g / 1
    >>> w.data
    array([0.98])
    """

    _state_keys = frozenset({"step", "square_avg", "momentum_buffer", "grad_avg"})
    _required_state_keys = frozenset({"step", "square_avg"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        super()._check_group(group, where)
        # PyTorch only asks alpha >= 0; above 1 the average of squares can turn negative
        group["alpha"] = check_number(where, "alpha", group["alpha"], 0.0, 1.0, high_inclusive=True)
        group["eps"] = check_number(where, "eps", group["eps"], 0.0)
        group["weight_decay"] = check_number(where, "weight_decay", group["weight_decay"], 0.0)
        group["momentum"] = check_number(where, "momentum", group["momentum"], 0.0)
        group["centered"] = check_flag(where, "centered", group["centered"])
        group["maximize"] = check_flag(where, "maximize", group["maximize"])

    def step(self) -> None:
        state = self.state
        by_id = state._by_id
        for group in self.param_groups:
            lr = float(group["lr"])
            alpha, eps, wd = group["alpha"], group["eps"], group["weight_decay"]
            mu, centered, maximize = group["momentum"], group["centered"], group["maximize"]
            for p in group["params"]:
                g = self._grad(p, "RMSprop")
                if g is None:
                    continue
                d = p.data
                if maximize:
                    g = -g
                if wd != 0.0:
                    g = g + wd * d
                entry = by_id.get(id(p))
                st = entry[1] if entry is not None and entry[0] is p else state[p]
                if not st:
                    st["step"] = 0
                    st["square_avg"] = xp.zeros_like(d)
                st["step"] += 1
                # every update in PyTorch's order of operations (addcmul_ is s + (v·g)·g,
                # addcdiv_ p + (v·g)/d, add_(b, alpha=v) p + v·b, lerp_ a + w·(g − a)),
                # so that the numbers agree to ~1e-15 over many steps.  (PyTorch's vector
                # kernels fuse some of these multiply-adds; NumPy has no fma, and a wider
                # float to imitate it would cost the step ten times over.)
                s = st["square_avg"]
                s *= alpha
                s += ((1.0 - alpha) * g) * g
                if centered:
                    a = st.get("grad_avg")
                    if a is None:
                        a = st["grad_avg"] = xp.zeros_like(d)
                    w = 1.0 - alpha  # lerp_(g, w), PyTorch's two branches
                    if w < 0.5:
                        a += w * (g - a)
                    else:
                        a[...] = g + (w - 1.0) * (g - a)
                    denom = xp.sqrt(s + (-1.0 * a) * a)
                else:
                    denom = xp.sqrt(s)
                denom += eps
                if mu > 0.0:
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = st["momentum_buffer"] = xp.zeros_like(d)
                    buf *= mu
                    buf += g / denom
                    d += -lr * buf
                else:
                    d += (-lr * g) / denom
