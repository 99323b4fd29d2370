"""Right answers to the starters of ``tinygrad-bp exercise`` (the body of each backward),
for the tests: a filled-in starter must pass its own check."""

from __future__ import annotations

from tinygrad_bp.commands.exercises import NOT_YET, starter

_DENSE = {
    "sigmoid": "self.h * (1 - self.h)",
    "tanh": "1 - self.h**2",
    "relu": "(self.a > 0) * 1.0",
}

SOLUTIONS = {
    **{
        f"dense-{act}": f"""\
        a_grad = input_grad * ({d})
        self.dW = self.input_data.T @ a_grad
        self.db = a_grad.sum(axis=0, keepdims=True)
        return a_grad @ self.W.T
"""
        for act, d in _DENSE.items()
    },
    "softmax-cross-entropy": """\
        n = len(self.y)
        one_hot = np.zeros_like(self.y_hat)
        one_hot[np.arange(n), self.y] = 1
        return input_grad * (self.y_hat - one_hot) / n
""",
    "conv2d": """\
        x = self.input_data
        c_out, _, kh, kw = self.weight.shape
        oh, ow = input_grad.shape[2:]
        self.dbias = input_grad.sum(axis=(0, 2, 3))
        self.dweight = np.zeros_like(self.weight)
        dx = np.zeros_like(x)
        for r in range(kh):
            for s in range(kw):
                patch = x[:, :, r : r + oh, s : s + ow]
                self.dweight[:, :, r, s] = np.einsum("nohw,nchw->oc", input_grad, patch)
                dx[:, :, r : r + oh, s : s + ow] += np.einsum(
                    "nohw,oc->nchw", input_grad, self.weight[:, :, r, s]
                )
        return dx
""",
    "maxpool2d": """\
        spread = lambda a: np.repeat(np.repeat(a, 2, axis=2), 2, axis=3)  # noqa: E731
        mask = self.input_data == spread(self.out)
        return mask * spread(input_grad)
""",
    "avgpool2d": """\
        return np.repeat(np.repeat(input_grad, 2, axis=2), 2, axis=3) / 4
""",
    "batchnorm": """\
        self.dbeta = input_grad.sum(axis=0)
        self.dgamma = (input_grad * self.x_hat).sum(axis=0)
        dxh = input_grad * self.gamma
        return self.inv_std * (
            dxh - dxh.mean(axis=0) - self.x_hat * (dxh * self.x_hat).mean(axis=0)
        )
""",
    "layernorm": """\
        self.dbeta = input_grad.sum(axis=0)
        self.dgamma = (input_grad * self.x_hat).sum(axis=0)
        dxh = input_grad * self.gamma
        return self.inv_std * (
            dxh
            - dxh.mean(axis=1, keepdims=True)
            - self.x_hat * (dxh * self.x_hat).mean(axis=1, keepdims=True)
        )
""",
    "dropout": """\
        return input_grad * self.mask / (1 - self.p)
""",
    "embedding": """\
        self.dweight = np.zeros_like(self.weight)
        np.add.at(self.dweight, self.indices, input_grad)
        return None
""",
    "rnn": """\
        self.dWx = np.zeros_like(self.Wx)
        self.dWh = np.zeros_like(self.Wh)
        self.db = np.zeros_like(self.b)
        dx = np.zeros_like(self.x)
        dh_next = np.zeros_like(self.hs[0])
        for t in reversed(range(len(self.x))):
            da = (input_grad[t] + dh_next) * (1 - self.hs[t + 1] ** 2)
            self.dWx += self.x[t].T @ da
            self.dWh += self.hs[t].T @ da
            self.db += da.sum(axis=0)
            dx[t] = da @ self.Wx.T
            dh_next = da @ self.Wh.T
        return dx
""",
    "lstm": """\
        self.dWx = np.zeros_like(self.Wx)
        self.dWh = np.zeros_like(self.Wh)
        self.db = np.zeros_like(self.b)
        dx = np.zeros_like(self.x)
        dh_next = np.zeros_like(self.hs[0])
        dc_next = np.zeros_like(self.cs[0])
        for t in reversed(range(len(self.x))):
            i, f, g, o = self.gates[t]
            tc = np.tanh(self.cs[t + 1])
            dh = input_grad[t] + dh_next
            do = dh * tc
            dc = dh * o * (1 - tc**2) + dc_next
            di, dg, df = dc * g, dc * i, dc * self.cs[t]
            dc_next = dc * f
            da = np.concatenate(
                [di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2), do * o * (1 - o)], axis=1
            )
            self.dWx += self.x[t].T @ da
            self.dWh += self.hs[t].T @ da
            self.db += da.sum(axis=0)
            dx[t] = da @ self.Wx.T
            dh_next = da @ self.Wh.T
        return dx
""",
    "attention": """\
        x, p, e = self.x, self.p, self.x.shape[2]
        flat = lambda a: a.reshape(-1, a.shape[-1])  # noqa: E731
        self.dWo = flat(self.z).T @ flat(input_grad)
        dz = input_grad @ self.Wo.T
        dp = dz @ self.v.transpose(0, 2, 1)
        dv = p.transpose(0, 2, 1) @ dz
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) / np.sqrt(e)
        dq = ds @ self.k
        dk = ds.transpose(0, 2, 1) @ self.q
        self.dWq = flat(x).T @ flat(dq)
        self.dWk = flat(x).T @ flat(dk)
        self.dWv = flat(x).T @ flat(dv)
        return dq @ self.Wq.T + dk @ self.Wk.T + dv @ self.Wv.T
""",
}


def solved(name: str, filename: str = "exercise.py", body: str | None = None) -> str:
    """The starter with its backward filled in (``body``: another, e.g. a broken one)."""
    text = starter(name, filename)
    assert NOT_YET in text
    return text.replace(NOT_YET, SOLUTIONS[name] if body is None else body)
