"""The benchmark's peers: the same training step in PyTorch eager, MyGrad and HIPS autograd.

They are what the benchmarks page (``python benchmarks/run.py``) compares with, and not part
of the installed package: ``tinygrad-bp bench`` times tinygrad_bp against the hand-written
NumPy step only.  :func:`register_all` adds them to the workloads and worker of
:mod:`tinygrad_bp.commands._bench_impls`; run as a script (``python benchmarks/peers.py
IMPL --threads N``) this file is the worker that serves them, started by the harness.
Each builds from the same seeded problem as the others and returns ``(step, params)``.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinygrad_bp.commands import _bench_impls as impls  # noqa: E402
from tinygrad_bp.commands._bench_impls import ModelProblem, Params, Problem, Step  # noqa: E402

PEERS = ("torch", "mygrad", "autograd")


def _model_torch(p: ModelProblem) -> tuple[Step, Params]:
    """PyTorch eager, idiomatic: torch.nn layers, F.cross_entropy, optim.SGD (W7: AdamW)."""
    import torch

    nn = torch.nn
    dtype = getattr(torch, str(next(iter(p.weights.values())).dtype))
    if p.kind == "cnn":
        model = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(128, 10),
        ).to(dtype)  # fmt: skip
        x, y = torch.from_numpy(p.X), torch.from_numpy(p.y)
    elif p.kind == "transformer":
        model = torch_transformer(torch, p.X.shape[1]).to(dtype)
        x, y = torch.from_numpy(p.X), torch.from_numpy(p.y).reshape(-1)
    else:

        class NamesLSTM(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.embed = nn.Embedding(27, 32)
                self.lstm = nn.LSTM(32, 128, batch_first=True)
                self.head = nn.Linear(128, 27)

            def forward(self, idx: Any) -> Any:
                seq, _ = self.lstm(self.embed(idx))
                return self.head(seq).reshape(-1, 27)

        model = NamesLSTM().to(dtype)
        x, y = torch.from_numpy(p.X), torch.from_numpy(p.y).reshape(-1)
    tp = dict(model.named_parameters())
    with torch.no_grad():
        for n, w in p.weights.items():
            tp[n].copy_(torch.from_numpy(w))
    if p.adamw:
        opt = torch.optim.AdamW(model.parameters(), **p.adamw)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=p.lr)
    cross_entropy = torch.nn.functional.cross_entropy

    def step() -> Any:
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    def params() -> list[np.ndarray]:
        return [tp[n].detach().numpy().copy() for n in p.weights]

    return step, params


def torch_transformer(torch: Any, block_size: int) -> Any:
    """models.NamesTransformer's PyTorch twin, under the same parameter names (the bench's
    W7 and the results page's transformer run both use it)."""
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self, c: int, h: int) -> None:
            super().__init__()
            self.n_head = h
            self.ln_1 = nn.LayerNorm(c)
            self.c_attn = nn.Linear(c, 3 * c)
            self.attn_proj = nn.Linear(c, c)
            self.ln_2 = nn.LayerNorm(c)
            self.c_fc = nn.Linear(c, 4 * c)
            self.mlp_proj = nn.Linear(4 * c, c)

        def forward(self, x: Any) -> Any:
            n, t, c = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
            q, k, v = (z.view(n, t, self.n_head, c // self.n_head).transpose(1, 2)
                       for z in (q, k, v))  # fmt: skip
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.attn_proj(y.transpose(1, 2).reshape(n, t, c))
            return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))

    class NamesTransformer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(27, 64)
            self.wpe = nn.Embedding(block_size, 64)
            self.blocks = nn.ModuleList([Block(64, 4) for _ in range(4)])
            self.ln_f = nn.LayerNorm(64)
            self.lm_head = nn.Linear(64, 27, bias=False)

        def forward(self, idx: Any) -> Any:
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            for b in self.blocks:
                x = b(x)
            return self.lm_head(self.ln_f(x)).reshape(-1, 27)

    return NamesTransformer()


def build_torch(p: Problem) -> tuple[Step, Params]:
    """PyTorch eager, idiomatic: nn.Sequential of nn.Linear, F.cross_entropy, optim.SGD."""
    if isinstance(p, ModelProblem):
        return _model_torch(p)
    import torch

    dtype = getattr(torch, str(p.Ws[0].dtype))
    mods: list[Any] = []
    linears = []
    for i, (W, b) in enumerate(zip(p.Ws, p.bs)):
        lin = torch.nn.Linear(W.shape[0], W.shape[1], dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            lin.bias.copy_(torch.from_numpy(b))
        linears.append(lin)
        mods.append(lin)
        if i < len(p.Ws) - 1:
            mods.append(torch.nn.ReLU() if p.activation == "relu" else torch.nn.Tanh())
    model = torch.nn.Sequential(*mods)
    opt = torch.optim.SGD(model.parameters(), lr=p.lr)
    x = torch.from_numpy(p.X)
    y = torch.from_numpy(p.y)
    cross_entropy = torch.nn.functional.cross_entropy

    def step() -> Any:
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    def params() -> list[np.ndarray]:
        out = []
        for lin in linears:
            out += [lin.weight.detach().numpy().T.copy(), lin.bias.detach().numpy().copy()]
        return out

    return step, params


def build_mygrad(p: Problem) -> tuple[Step, Params]:
    """MyGrad: its matmul, activations and softmax_crossentropy; SGD on ``.data``."""
    import mygrad as mg
    from mygrad.nnet.activations import relu
    from mygrad.nnet.losses import softmax_crossentropy

    Ws = [mg.Tensor(W.copy()) for W in p.Ws]
    bs = [mg.Tensor(b.copy()) for b in p.bs]
    act = relu if p.activation == "relu" else mg.tanh
    X, y, lr = p.X, p.y, p.lr
    last = len(Ws) - 1

    def step() -> Any:
        h = X
        for i in range(last):
            h = act(mg.matmul(h, Ws[i]) + bs[i])
        loss = softmax_crossentropy(mg.matmul(h, Ws[last]) + bs[last], y)
        loss.backward()
        for t in Ws + bs:
            t.data -= lr * t.grad
        return loss.item()

    def params() -> list[np.ndarray]:
        out = []
        for W, b in zip(Ws, bs):
            out += [W.data.copy(), b.data.copy()]
        return out

    return step, params


def build_autograd(p: Problem) -> tuple[Step, Params]:
    """HIPS autograd: ``value_and_grad`` of a loss written in ``autograd.numpy``."""
    import autograd.numpy as anp
    from autograd import value_and_grad

    flat = []
    for W, b in zip(p.Ws, p.bs):
        flat += [W.copy(), b.copy()]
    X, y, lr = p.X, p.y, p.lr
    rows = np.arange(X.shape[0])
    last = len(p.Ws) - 1
    relu = p.activation == "relu"

    def loss_fn(ps: list[Any]) -> Any:
        h = X
        for i in range(last):
            a = anp.dot(h, ps[2 * i]) + ps[2 * i + 1]
            h = anp.maximum(a, 0.0) if relu else anp.tanh(a)
        z = anp.dot(h, ps[2 * last]) + ps[2 * last + 1]
        shifted = z - anp.max(z, axis=1, keepdims=True)
        lse = anp.log(anp.sum(anp.exp(shifted), axis=1))
        return anp.mean(lse - shifted[rows, y])

    vg = value_and_grad(loss_fn)

    def step() -> Any:
        loss, grads = vg(flat)
        for t, g in zip(flat, grads):
            t -= lr * g
        return float(loss)

    def params() -> list[np.ndarray]:
        return [t.copy() for t in flat]

    return step, params


def _torch_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _torch_versions() -> dict[str, Any]:
    import torch

    found = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return {
        "torch_threads": torch.get_num_threads(),
        "torch_blas": f"its BLAS: {found.group(1) if found else 'unknown'}",
    }


def register_all() -> None:
    """Add PyTorch eager, MyGrad and HIPS autograd to the benchmark (where not yet added)."""
    if "torch" in impls.IMPLS:
        return
    script = os.path.abspath(__file__)
    impls.register("torch", build_torch, "PyTorch eager", module="torch", worker_script=script,
                   models=True, set_threads=_torch_threads, versions=_torch_versions)  # fmt: skip
    impls.register("mygrad", build_mygrad, "MyGrad", module="mygrad", worker_script=script)
    impls.register("autograd", build_autograd, "HIPS autograd", module="autograd",
                   worker_script=script)  # fmt: skip


if __name__ == "__main__":
    register_all()
    sys.exit(impls.main(sys.argv[1:], prog="python benchmarks/peers.py"))
