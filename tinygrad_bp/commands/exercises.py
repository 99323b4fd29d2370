"""The starter files of ``tinygrad-bp exercise``: one layer each, in the tutorial's notation.

Each starter holds a ``Layer`` whose ``forward`` is written and whose ``backward`` is left
to fill in, with the shapes and the chain rule as comments, and one ``check_<name>()``
function that ``tinygrad-bp check FILE.py`` runs (it returns ``tg.check.layer(...)``
against the engine's built-in twin).  The untouched ``backward`` raises
NotImplementedError, which the check reports as "not written yet".
"""

from __future__ import annotations

HEADER = '''"""Exercise: the backward of {title}, by hand.

Fill in Layer.backward below (the comments in it say what goes where), then run

    tinygrad-bp check {filename}

It runs check_{ident}() at the bottom: your gradients against the engine's (and finite
differences), with a seeded random incoming gradient, and it names the usual slips.
Notation as in the tutorial 反向传播详解BP: * is the elementwise product, · (@ in code) the
matrix product; input_grad is ∂L/∂(this layer's output), the gradient arriving from above.
"""

import numpy as np

import tinygrad_bp as tg

'''

NOT_YET = '        raise NotImplementedError("Layer.backward: not written yet")\n'

_ACT = {
    "sigmoid": ("1 / (1 + np.exp(-self.a))", "sigmoid'(a) = h·(1 − h)"),
    "tanh": ("np.tanh(self.a)", "tanh'(a) = 1 − h²"),
    "relu": ("np.maximum(self.a, 0)", "relu'(a) = 1 where a > 0, else 0"),
}


def _dense(act: str) -> str:
    f, rule = _ACT[act]
    return f'''class Layer:
    """A hidden layer of the tutorial: a = x·W + b, h = {act}(a)."""

    def __init__(self, W, b):
        self.W = W  # (input_dim, output_dim)
        self.b = b  # (1, output_dim)
        self.activation = "{act}"  # the engine's twin reads it

    def forward(self, input_data):  # input_data: (batch_size, input_dim)
        self.input_data = input_data
        self.a = input_data @ self.W + self.b  # a: (batch_size, output_dim)
        self.h = {f}
        return self.h  # h: (batch_size, output_dim)

    def backward(self, input_grad):  # input_grad = ∂L/∂h: (batch_size, output_dim)
        # a_grad = input_grad * activate'(a)          (batch_size, output_dim)
        #          {rule}
        # self.dW = input_dataᵀ · a_grad              (input_dim, output_dim)
        # self.db = a_grad summed over the batch      (1, output_dim)
        # return a_grad · Wᵀ                          (batch_size, input_dim)
        # (the gradients only: updating W and b is the optimizer's step, after backward)
{NOT_YET}

def check_dense_{act}():
    rng = np.random.default_rng(0)
    layer = Layer(rng.normal(0, 0.5, size=(4, 3)), rng.normal(0, 0.1, size=(1, 3)))
    x = rng.normal(size=(5, 4))
    return tg.check.layer(layer, x, engine="dense")
'''


BODIES: dict[str, str] = {
    "softmax-cross-entropy": f'''class Layer:
    """The tutorial's output layer for classification: softmax, then the mean
    cross-entropy over the batch, L = −(1/N) Σ_i log ŷ[i, y_i]."""

    def __init__(self, y):
        self.y = y  # (batch_size,) the class of each row

    def forward(self, input_data):  # input_data = the logits a: (batch_size, classes)
        shifted = input_data - input_data.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        self.y_hat = e / e.sum(axis=1, keepdims=True)  # softmax: (batch_size, classes)
        n = len(self.y)
        return -np.log(self.y_hat[np.arange(n), self.y]).mean()  # the loss: a scalar

    def backward(self, input_grad):  # input_grad = ∂(whatever is above)/∂L: a scalar
        # one_hot = the labels as rows of 0 and 1           (batch_size, classes)
        # ∂L/∂a = (ŷ − one_hot) / batch_size                (batch_size, classes)
        #         (softmax's Jacobian and the log collapse into ŷ − y, the tutorial's result)
        # return input_grad * ∂L/∂a
{NOT_YET}

def check_softmax_cross_entropy():
    rng = np.random.default_rng(0)
    y = np.array([0, 2, 1, 2, 0])
    layer = Layer(y)
    logits = rng.normal(size=(5, 3))
    return tg.check.layer(
        layer, logits, engine=lambda z: tg.functional.cross_entropy(z, y)
    )
''',
    "conv2d": f'''class Layer:
    """A 2-D convolution (cross-correlation, as every framework), stride 1, padding 0:
    out[n, o, i, j] = Σ_c Σ_r Σ_s x[n, c, i + r, j + s] · weight[o, c, r, s] + bias[o]."""

    def __init__(self, weight, bias):
        self.weight = weight  # (C_out, C_in, kH, kW)
        self.bias = bias  # (C_out,)
        self.stride, self.padding = 1, 0  # the engine's twin reads them

    def forward(self, input_data):  # input_data: (N, C_in, H, W)
        self.input_data = input_data
        c_out, _, kh, kw = self.weight.shape
        n, _, h, w = input_data.shape
        oh, ow = h - kh + 1, w - kw + 1
        out = np.zeros((n, c_out, oh, ow))
        for r in range(kh):
            for s in range(kw):
                patch = input_data[:, :, r : r + oh, s : s + ow]  # (N, C_in, OH, OW)
                out += np.einsum("nchw,oc->nohw", patch, self.weight[:, :, r, s])
        return out + self.bias.reshape(1, -1, 1, 1)  # (N, C_out, OH, OW)

    def backward(self, input_grad):  # input_grad = ∂L/∂out: (N, C_out, OH, OW)
        # self.dbias = input_grad summed over N, OH, OW                      (C_out,)
        # for each kernel offset (r, s), with patch = x[:, :, r:r+OH, s:s+OW]:
        #   self.dweight[:, :, r, s] = Σ_n,i,j input_grad[n, o, i, j] · patch[n, c, i, j]
        #   dx[:, :, r:r+OH, s:s+OW] += Σ_o input_grad[n, o, i, j] · weight[o, c, r, s]
        #   (np.einsum("nohw,nchw->oc", ...) and np.einsum("nohw,oc->nchw", ...))
        # return dx                                                    (N, C_in, H, W)
{NOT_YET}

def check_conv2d():
    rng = np.random.default_rng(0)
    layer = Layer(rng.normal(0, 0.5, size=(3, 2, 3, 3)), rng.normal(0, 0.1, size=3))
    x = rng.normal(size=(2, 2, 5, 5))
    return tg.check.layer(layer, x, engine="conv2d")
''',
    "maxpool2d": f'''class Layer:
    """2×2 max pooling, stride 2: each output is the largest of its window."""

    def __init__(self):
        self.kernel_size = 2  # the engine's twin reads it (stride = kernel_size)

    def forward(self, input_data):  # input_data: (N, C, H, W), H and W even
        n, c, h, w = input_data.shape
        windows = input_data.reshape(n, c, h // 2, 2, w // 2, 2)
        self.input_data = input_data
        self.out = windows.max(axis=(3, 5))  # (N, C, H/2, W/2)
        return self.out

    def backward(self, input_grad):  # input_grad = ∂L/∂out: (N, C, H/2, W/2)
        # the gradient of a max goes to the element that was the maximum, and only there:
        # mask = (each x == the max of its window)                          (N, C, H, W)
        #        (np.repeat(np.repeat(self.out, 2, axis=2), 2, axis=3) spreads the max)
        # return mask * input_grad spread back the same way                (N, C, H, W)
{NOT_YET}

def check_maxpool2d():
    rng = np.random.default_rng(0)
    return tg.check.layer(Layer(), rng.normal(size=(2, 2, 4, 4)), engine="maxpool2d")
''',
    "avgpool2d": f'''class Layer:
    """2×2 average pooling, stride 2: each output is the mean of its window."""

    def __init__(self):
        self.kernel_size = 2  # the engine's twin reads it (stride = kernel_size)

    def forward(self, input_data):  # input_data: (N, C, H, W), H and W even
        n, c, h, w = input_data.shape
        return input_data.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))

    def backward(self, input_grad):  # input_grad = ∂L/∂out: (N, C, H/2, W/2)
        # each of the 4 elements of a window gets 1/4 of its output's gradient:
        # return input_grad spread over its window (np.repeat twice) / 4   (N, C, H, W)
{NOT_YET}

def check_avgpool2d():
    rng = np.random.default_rng(0)
    return tg.check.layer(Layer(), rng.normal(size=(2, 2, 4, 4)), engine="avgpool2d")
''',
    "batchnorm": f'''class Layer:
    """Batch normalisation in training mode over a (N, D) batch:
    x̂ = (x − μ) / √(σ² + eps) with the batch's mean μ and (biased) variance σ², then
    out = gamma * x̂ + beta."""

    def __init__(self, gamma, beta, eps=1e-5):
        self.gamma = gamma  # (D,)
        self.beta = beta  # (D,)
        self.eps = eps

    def forward(self, input_data):  # input_data: (N, D)
        mu = input_data.mean(axis=0)
        var = input_data.var(axis=0)
        self.inv_std = 1 / np.sqrt(var + self.eps)  # (D,)
        self.x_hat = (input_data - mu) * self.inv_std  # (N, D)
        return self.gamma * self.x_hat + self.beta  # (N, D)

    def backward(self, input_grad):  # input_grad = ∂L/∂out: (N, D)
        # self.dbeta = input_grad summed over the batch                      (D,)
        # self.dgamma = (input_grad * x̂) summed over the batch              (D,)
        # dx̂ = input_grad * gamma                                          (N, D)
        # μ and σ² depend on every row, so dx has three terms:
        # dx = inv_std * (dx̂ − mean of dx̂ over the batch − x̂ * mean of (dx̂ * x̂))
        # return dx                                                          (N, D)
{NOT_YET}

def check_batchnorm():
    rng = np.random.default_rng(0)
    layer = Layer(rng.normal(size=3), rng.normal(size=3))
    return tg.check.layer(layer, rng.normal(size=(6, 3)), engine="batchnorm")
''',
    "layernorm": f'''class Layer:
    """Layer normalisation over the last axis of a (N, D) batch: each row is
    normalised by its own mean and (biased) variance, then out = gamma * x̂ + beta."""

    def __init__(self, gamma, beta, eps=1e-5):
        self.gamma = gamma  # (D,)
        self.beta = beta  # (D,)
        self.eps = eps

    def forward(self, input_data):  # input_data: (N, D)
        mu = input_data.mean(axis=1, keepdims=True)
        var = input_data.var(axis=1, keepdims=True)
        self.inv_std = 1 / np.sqrt(var + self.eps)  # (N, 1)
        self.x_hat = (input_data - mu) * self.inv_std  # (N, D)
        return self.gamma * self.x_hat + self.beta

    def backward(self, input_grad):  # input_grad = ∂L/∂out: (N, D)
        # self.dbeta = input_grad summed over the batch                      (D,)
        # self.dgamma = (input_grad * x̂) summed over the batch              (D,)
        # dx̂ = input_grad * gamma                                          (N, D)
        # as batch norm, but the means are over each row (axis 1), not the batch:
        # dx = inv_std * (dx̂ − row mean of dx̂ − x̂ * row mean of (dx̂ * x̂))
        # return dx                                                          (N, D)
{NOT_YET}

def check_layernorm():
    rng = np.random.default_rng(0)
    layer = Layer(rng.normal(size=5), rng.normal(size=5))
    return tg.check.layer(layer, rng.normal(size=(4, 5)), engine="layernorm")
''',
    "dropout": f'''class Layer:
    """Inverted dropout in training mode: keep each value with probability 1 − p and
    scale the kept ones by 1/(1 − p)."""

    def __init__(self, p, seed=0):
        self.p = p
        self.rng = np.random.default_rng(seed)

    def forward(self, input_data):  # input_data: any shape
        self.mask = self.rng.random(input_data.shape) >= self.p  # kept: True
        return input_data * self.mask / (1 - self.p)

    def backward(self, input_grad):  # input_grad = ∂L/∂out: the input's shape
        # out = x * mask / (1 − p) is elementwise, so
        # return input_grad * mask / (1 − p)          (the same mask as the forward's)
{NOT_YET}

def check_dropout():
    rng = np.random.default_rng(0)
    return tg.check.layer(Layer(0.4), rng.normal(size=(4, 5)), engine="dropout")
''',
    "embedding": f'''class Layer:
    """An embedding table: out[n, t] = weight[indices[n, t]] (a row lookup)."""

    def __init__(self, weight):
        self.weight = weight  # (vocabulary, D)

    def forward(self, indices):  # indices: (N, T) integers
        self.indices = indices
        return self.weight[indices]  # (N, T, D)

    def backward(self, input_grad):  # input_grad = ∂L/∂out: (N, T, D)
        # a row read twice gets both gradients: add, do not overwrite
        # self.dweight = zeros like weight; np.add.at(self.dweight, indices, input_grad)
        # return None (integer indices have no gradient)
{NOT_YET}

def check_embedding():
    rng = np.random.default_rng(0)
    layer = Layer(rng.normal(size=(6, 3)))
    return tg.check.layer(layer, np.array([[0, 2, 5], [2, 1, 2]]), engine="embedding")
''',
    "rnn": f'''class Layer:
    """A vanilla RNN over a sequence, h₀ = 0:
    a_t = x_t·Wx + h_(t−1)·Wh + b,  h_t = tanh(a_t); the output is every h_t."""

    def __init__(self, Wx, Wh, b):
        self.Wx = Wx  # (input_dim, hidden)
        self.Wh = Wh  # (hidden, hidden)
        self.b = b  # (hidden,)

    def forward(self, input_data):  # input_data: (T, N, input_dim)
        t_len, n, _ = input_data.shape
        self.x = input_data
        self.hs = np.zeros((t_len + 1, n, self.Wh.shape[0]))  # hs[0] = h₀ = 0
        for t in range(t_len):
            a = input_data[t] @ self.Wx + self.hs[t] @ self.Wh + self.b
            self.hs[t + 1] = np.tanh(a)
        return self.hs[1:]  # (T, N, hidden)

    def backward(self, input_grad):  # input_grad = ∂L/∂h_t for every t: (T, N, hidden)
        # backprop through time, from the last step to the first, with a carry dh_next = 0:
        #   dh = input_grad[t] + dh_next             (N, hidden)
        #   da = dh * (1 − h_t²)                     (N, hidden)   tanh'
        #   dWx += x_tᵀ · da;  dWh += h_(t−1)ᵀ · da;  db += da summed over N
        #   dx[t] = da · Wxᵀ;  dh_next = da · Whᵀ
        # self.dWx, self.dWh, self.db = ...; return dx                 (T, N, input_dim)
{NOT_YET}

def check_rnn():
    rng = np.random.default_rng(0)
    layer = Layer(rng.normal(0, 0.5, size=(3, 4)), rng.normal(0, 0.5, size=(4, 4)),
                  rng.normal(0, 0.1, size=4))
    return tg.check.layer(layer, rng.normal(size=(3, 2, 3)), engine="rnn")
''',
    "lstm": f'''def sigmoid(a):
    return 1 / (1 + np.exp(-a))


class Layer:
    """An LSTM over a sequence, h₀ = c₀ = 0; gates in PyTorch's order i, f, g, o:
    [i f g o] = x_t·Wx + h_(t−1)·Wh + b  (each H wide),
    c_t = σ(f) * c_(t−1) + σ(i) * tanh(g),  h_t = σ(o) * tanh(c_t)."""

    def __init__(self, Wx, Wh, b):
        self.Wx = Wx  # (input_dim, 4H)
        self.Wh = Wh  # (H, 4H)
        self.b = b  # (4H,)

    def forward(self, input_data):  # input_data: (T, N, input_dim)
        t_len, n, _ = input_data.shape
        H = self.Wh.shape[0]
        self.x = input_data
        self.hs = np.zeros((t_len + 1, n, H))
        self.cs = np.zeros((t_len + 1, n, H))
        self.gates = []
        for t in range(t_len):
            a = input_data[t] @ self.Wx + self.hs[t] @ self.Wh + self.b
            i, f = sigmoid(a[:, :H]), sigmoid(a[:, H : 2 * H])
            g, o = np.tanh(a[:, 2 * H : 3 * H]), sigmoid(a[:, 3 * H :])
            self.cs[t + 1] = f * self.cs[t] + i * g
            self.hs[t + 1] = o * np.tanh(self.cs[t + 1])
            self.gates.append((i, f, g, o))
        return self.hs[1:]  # (T, N, H)

    def backward(self, input_grad):  # input_grad = ∂L/∂h_t for every t: (T, N, H)
        # from the last step to the first, carrying dh_next = dc_next = 0:
        #   dh = input_grad[t] + dh_next;   tc = tanh(c_t)
        #   do = dh * tc;   dc = dh * o * (1 − tc²) + dc_next
        #   di = dc * g;   dg = dc * i;   df = dc * c_(t−1);   dc_next = dc * f
        #   da = [di·i(1−i), df·f(1−f), dg·(1−g²), do·o(1−o)]  side by side  (N, 4H)
        #   dWx += x_tᵀ · da;  dWh += h_(t−1)ᵀ · da;  db += da summed over N
        #   dx[t] = da · Wxᵀ;  dh_next = da · Whᵀ
        # self.dWx, self.dWh, self.db = ...; return dx                 (T, N, input_dim)
{NOT_YET}

def check_lstm():
    rng = np.random.default_rng(0)
    layer = Layer(rng.normal(0, 0.5, size=(3, 8)), rng.normal(0, 0.5, size=(2, 8)),
                  rng.normal(0, 0.1, size=8))
    return tg.check.layer(layer, rng.normal(size=(3, 2, 3)), engine="lstm")
''',
    "attention": f'''class Layer:
    """One head of causal self-attention over (N, T, E):
    q = x·Wq, k = x·Wk, v = x·Wv;  s = q·kᵀ/√E with the future masked (−∞);
    p = softmax(s) over the last axis;  out = (p·v)·Wo."""

    def __init__(self, Wq, Wk, Wv, Wo):
        self.Wq, self.Wk, self.Wv, self.Wo = Wq, Wk, Wv, Wo  # each (E, E)

    def forward(self, input_data):  # input_data: (N, T, E)
        x = self.x = input_data
        e, t_len = x.shape[2], x.shape[1]
        self.q, self.k, self.v = x @ self.Wq, x @ self.Wk, x @ self.Wv
        s = self.q @ self.k.transpose(0, 2, 1) / np.sqrt(e)  # (N, T, T)
        s[:, np.triu(np.ones((t_len, t_len), dtype=bool), k=1)] = -np.inf
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        self.p = s / s.sum(axis=-1, keepdims=True)  # (N, T, T)
        self.z = self.p @ self.v  # (N, T, E)
        return self.z @ self.Wo

    def backward(self, input_grad):  # input_grad = ∂L/∂out: (N, T, E)
        # dWo = Σ_n z[n]ᵀ · input_grad[n];   dz = input_grad · Woᵀ
        # dp = dz · vᵀ;   dv = pᵀ · dz
        # ds = p * (dp − Σ_last (dp * p)) / √E      (softmax's backward, then the scale)
        # dq = ds · k;   dk = dsᵀ · q
        # dWq = Σ_n x[n]ᵀ · dq[n] (likewise dWk, dWv);  dx = dq·Wqᵀ + dk·Wkᵀ + dv·Wvᵀ
        # self.dWq, self.dWk, self.dWv, self.dWo = ...; return dx               (N, T, E)
{NOT_YET}

def check_attention():
    rng = np.random.default_rng(0)
    layer = Layer(*(rng.normal(0, 0.5, size=(4, 4)) for _ in range(4)))
    return tg.check.layer(layer, rng.normal(size=(2, 3, 4)), engine="attention")
''',
}
for _act in _ACT:
    BODIES[f"dense-{_act}"] = _dense(_act)

TITLES = {
    "dense-sigmoid": "a dense layer with sigmoid",
    "dense-tanh": "a dense layer with tanh",
    "dense-relu": "a dense layer with ReLU",
    "softmax-cross-entropy": "softmax with the cross-entropy loss",
    "conv2d": "a 2-D convolution",
    "maxpool2d": "2×2 max pooling",
    "avgpool2d": "2×2 average pooling",
    "batchnorm": "batch normalisation",
    "layernorm": "layer normalisation",
    "dropout": "dropout",
    "embedding": "an embedding table",
    "rnn": "a vanilla RNN (backprop through time)",
    "lstm": "an LSTM (backprop through time)",
    "attention": "one head of causal self-attention",
}
NAMES = tuple(TITLES)


def starter(name: str, filename: str) -> str:
    """The text of the starter file for ``name``."""
    ident = name.replace("-", "_")
    return HEADER.format(title=TITLES[name], filename=filename, ident=ident) + "\n" + BODIES[name]
