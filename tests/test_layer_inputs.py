"""Issue 20, section 3: every layer and functional layer op checks what it is given
first, and a bad input ends in an error that names the layer, what it expected and what
it got: never a NumPy traceback from deep inside, a bare AttributeError or "too many
values to unpack".  One row per bad input."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import functional as F
from tinygrad_bp import nn

T = tg.Tensor


def z(*shape: int) -> tg.Tensor:
    return T(np.zeros(shape))


# (id, call, exception type, regex the message must match: the layer's name first)
ROWS = [
    # linear
    ("Linear shape", lambda: nn.Linear(3, 2)(z(2, 4)), ValueError,
     r"Linear\(3→2\): expected input whose last dimension is 3, got shape \(2, 4\)"),
    ("Linear str", lambda: nn.Linear(3, 2)("abc"), TypeError, r"Linear: expected a Tensor"),
    ("Linear in_features", lambda: nn.Linear(3.0, 2), ValueError,
     r"Linear: in_features must be a positive int, got 3.0"),
    ("Dense shape", lambda: nn.Dense(3, 2)(z(2, 4)), ValueError, r"Dense\(3→2\): expected"),
    ("Dense activation", lambda: nn.Dense(3, 2, activation="gelu"), ValueError,
     r"Dense: unknown activation 'gelu'"),
    # convolution and pooling
    ("Conv2d shape", lambda: nn.Conv2d(3, 2, 3)(z(2, 4, 4, 4)), ValueError,
     r"Conv2d\(3, 2\): expected an input of shape \(N, 3, H, W\), got shape \(2, 4, 4, 4\)"),
    ("Conv2d None", lambda: nn.Conv2d(3, 2, 3)(None), TypeError,
     r"Conv2d: expected a Tensor .* got NoneType"),
    ("Conv2d small", lambda: nn.Conv2d(3, 2, 3)(z(1, 3, 2, 2)), ValueError,
     r"conv2d: kernel size \(3, 3\) is larger than the padded input \(2, 2\)"),
    ("Conv2d kernel", lambda: nn.Conv2d(3, 2, 0), ValueError, r"Conv2d: kernel_size must be >= 1"),
    ("Conv2d stride", lambda: nn.Conv2d(3, 2, 3, stride=(1, 2, 3)), TypeError,
     r"Conv2d: stride must be an int or a pair of ints"),
    ("conv2d ndarray", lambda: F.conv2d(np.zeros((1, 1, 3, 3)), z(1, 1, 2, 2)), TypeError,
     r"conv2d: expected a Tensor, got ndarray"),
    ("conv2d bias", lambda: F.conv2d(z(1, 1, 3, 3), z(2, 1, 2, 2), z(3)), ValueError,
     r"conv2d: bias must have shape \(2,\)"),
    ("conv2d 4 GiB", lambda: F.conv2d(T(np.zeros((1, 1, 2000, 2000), np.float32)),
                                      T(np.zeros((1, 1, 120, 120), np.float32))),
     ValueError, r"conv2d: the windows \(1, 1, 120, 120, 1881, 1881\) would need"),
    ("MaxPool2d 3-d", lambda: nn.MaxPool2d(2)(z(2, 4, 4)), ValueError,
     r"MaxPool2d: expected an input of shape \(N, C, H, W\), got shape \(2, 4, 4\)"),
    ("MaxPool2d ndarray", lambda: nn.MaxPool2d(2)(np.zeros((1, 1, 4, 4))), TypeError,
     r"MaxPool2d: expected a Tensor"),
    ("MaxPool2d padding", lambda: nn.MaxPool2d(2, padding=2), ValueError,
     r"MaxPool2d: padding \(2, 2\) must be at most half the kernel size"),
    ("AvgPool2d kernel", lambda: nn.AvgPool2d(5)(z(1, 1, 4, 4)), ValueError,
     r"avg_pool2d: kernel size \(5, 5\) is larger than the padded input"),
    ("max_pool2d ceil_mode", lambda: F.max_pool2d(z(1, 1, 4, 4), 2, ceil_mode=1), TypeError,
     r"max_pool2d: ceil_mode must be a bool"),
    # normalisation, dropout
    ("BatchNorm1d C", lambda: nn.BatchNorm1d(3)(z(2, 4)), ValueError,
     r"BatchNorm1d\(3\): expected an input of shape \(N, C\) or \(N, C, L\) with C = 3, got"),
    ("BatchNorm1d N=1", lambda: nn.BatchNorm1d(3)(z(1, 3)), ValueError,
     r"batch_norm: expected more than 1 value per channel when training"),
    ("BatchNorm2d None", lambda: nn.BatchNorm2d(3)(None), TypeError,
     r"BatchNorm2d: expected a Tensor"),
    ("BatchNorm eps", lambda: nn.BatchNorm2d(3, eps=-1), ValueError,
     r"BatchNorm2d: eps must be a number >= 0, got -1"),
    ("BatchNorm features", lambda: nn.BatchNorm1d(0), ValueError,
     r"BatchNorm1d: num_features must be a positive int"),
    ("LayerNorm shape", lambda: nn.LayerNorm(3)(z(2, 4)), ValueError,
     r"LayerNorm\(3,\): expected an input ending in \(3,\), got shape \(2, 4\)"),
    ("LayerNorm eps", lambda: nn.LayerNorm(3, eps=-1), ValueError, r"LayerNorm: eps must be"),
    ("Dropout p", lambda: nn.Dropout(1.5), ValueError, r"Dropout: p must be a probability"),
    ("dropout ndarray", lambda: nn.Dropout(0.5)(np.zeros(3)), TypeError,
     r"dropout: expected a Tensor, got ndarray"),
    # embedding
    ("Embedding float", lambda: nn.Embedding(5, 2)(np.array([0.5])), TypeError,
     r"Embedding\(5, 2\): embedding: indices must be integers"),
    ("Embedding range", lambda: nn.Embedding(5, 2)(np.array([5])), IndexError,
     r"Embedding\(5, 2\): embedding: index 5 is out of range for 5 embeddings"),
    ("Embedding size", lambda: nn.Embedding(0, 3), ValueError,
     r"Embedding: num_embeddings must be a positive int"),
    # recurrent cells and layers
    ("RNNCell h", lambda: nn.RNNCell(3, 2)(z(2, 3), z(2, 3)), ValueError,
     r"RNNCell: expected a hidden state of shape \(2, 2\), got \(2, 3\)"),
    ("LSTMCell hx of 3", lambda: nn.LSTMCell(3, 2)(z(2, 3), (z(2, 2),) * 3), TypeError,
     r"LSTMCell: expected hx as a pair \(h_0, c_0\), got a tuple of 3"),
    ("LSTMCell hx Tensor", lambda: nn.LSTMCell(3, 2)(z(2, 3), z(2, 2, 2)), TypeError,
     r"LSTMCell: expected hx as a pair \(h_0, c_0\), got a Tensor"),
    ("GRUCell x", lambda: nn.GRUCell(3, 2)(z(2, 4)), ValueError,
     r"GRUCell\(3, 2\): expected an input of shape \(N, 3\) or \(3,\), got shape \(2, 4\)"),
    ("LSTM hx of 3", lambda: nn.LSTM(3, 2)(z(5, 2, 3), (z(1, 2, 2),) * 3), TypeError,
     r"LSTM: expected hx as a pair \(h_0, c_0\), got a tuple of 3"),
    ("LSTM h_0", lambda: nn.LSTM(3, 2)(z(5, 2, 3), (z(2, 2, 2), z(1, 2, 2))), ValueError,
     r"LSTM: expected h_0 of shape \(1, 2, 2\)"),
    ("GRU x", lambda: nn.GRU(3, 2)(z(5, 2, 4)), ValueError,
     r"GRU\(3, 2\): expected an input of shape \(T, N, I\) or \(T, I\) with I = 3"),
    ("RNN list", lambda: nn.RNN(3, 2)([z(3), z(3)]), TypeError,
     r"RNN: expected the input sequence as one Tensor, got a list"),
    ("RNN h_0", lambda: nn.RNN(3, 2, num_layers=2)(z(5, 2, 3), z(1, 2, 2)), ValueError,
     r"RNN: expected h_0 of shape \(2, 2, 2\)"),
    # attention
    ("MHA batch", lambda: nn.MultiheadAttention(4, 2)(z(2, 3, 4), z(3, 3, 4), z(3, 3, 4)),
     ValueError, r"MultiheadAttention\(4, 2\): query .* and key .* disagree on the batch size"),
    ("MHA E", lambda: nn.MultiheadAttention(4, 2)(z(2, 3, 5), z(2, 3, 4), z(2, 3, 4)),
     ValueError, r"MultiheadAttention\(4, 2\): expected query of shape \(N, L, 4\)"),
    ("MHA key/value", lambda: nn.MultiheadAttention(4, 2)(z(2, 3, 4), z(2, 5, 4), z(2, 3, 4)),
     ValueError, r"MultiheadAttention\(4, 2\): key and value must have the same shape"),
    ("MHA mask", lambda: nn.MultiheadAttention(4, 2)(z(2, 3, 4), z(2, 3, 4), z(2, 3, 4),
                                                     attn_mask=np.zeros((2, 2), bool)),
     ValueError, r"MultiheadAttention\(4, 2\): attn_mask must have shape"),
    ("MHA ndarray", lambda: nn.MultiheadAttention(4, 2)(np.zeros((2, 3, 4)), z(2, 3, 4),
                                                        z(2, 3, 4)),
     TypeError, r"MultiheadAttention\(4, 2\): expected query as a Tensor, got ndarray"),
    ("MHA heads", lambda: nn.MultiheadAttention(5, 2), ValueError,
     r"MultiheadAttention: embed_dim 5 is not divisible by num_heads 2"),
    ("sdpa shapes", lambda: F.scaled_dot_product_attention(z(2, 3, 4), z(2, 3, 5), z(2, 3, 4)),
     ValueError, r"scaled_dot_product_attention: expected q \(..., L, E\)"),
    # containers and activations
    ("Flatten ndarray", lambda: nn.Flatten()(np.zeros((2, 3))), TypeError,
     r"Flatten: expected a Tensor, got ndarray"),
    ("Flatten(2) on (N, F)", lambda: nn.Flatten(2)(z(2, 3)), ValueError,
     r"Flatten: start_dim 2 is out of range for an input of shape \(2, 3\)"),
    ("Sequential item", lambda: nn.Sequential(nn.ReLU(), 3), TypeError,
     r"Sequential: item 1 is a int, expected an nn.Module"),
    ("ReLU ndarray", lambda: nn.ReLU()(np.zeros(3)), TypeError, r"ReLU: expected a Tensor"),
    ("Softmax ndarray", lambda: nn.Softmax(1)(np.zeros((2, 3))), TypeError,
     r"Softmax: expected a Tensor"),
    ("Tanh list", lambda: nn.Tanh()([1.0]), TypeError, r"Tanh: expected a Tensor, got list"),
    # losses
    ("CrossEntropyLoss class", lambda: nn.CrossEntropyLoss()(z(2, 3), np.array([0, 3])),
     ValueError, r"cross_entropy: class index 3 is out of range for 3 classes"),
    ("CrossEntropyLoss probs", lambda: nn.CrossEntropyLoss()(z(2, 3), np.zeros((3, 3))),
     ValueError, r"cross_entropy: a probability target must have the logits' shape"),
    ("CrossEntropyLoss reduction", lambda: nn.CrossEntropyLoss(reduction="avg"), ValueError,
     r"CrossEntropyLoss: reduction must be 'mean', 'sum' or 'none'"),
    ("MSELoss shape", lambda: nn.MSELoss()(z(2, 3), np.zeros((3, 3))), ValueError,
     r"mse_loss: target shape \(3, 3\) does not broadcast with the prediction's shape \(2, 3\)"),
    ("BCEWithLogitsLoss shape", lambda: nn.BCEWithLogitsLoss()(z(2, 3), np.zeros(3)),
     ValueError, r"binary_cross_entropy_with_logits: target shape \(3,\) differs"),
    # module habits
    ("load_state_dict names", lambda: nn.Linear(2, 2).load_state_dict({"w": np.zeros(2)}),
     RuntimeError, r"load_state_dict: missing keys \['bias', 'weight'\]"),
    ("Module.to device", lambda: nn.Linear(2, 2).to("cuda"), ValueError,
     r"Module.to: device 'cuda' is not available"),
    ("apply", lambda: nn.Linear(2, 2).apply(3), TypeError, r"Module.apply: fn must be callable"),
    ("init fan", lambda: nn.init.kaiming_uniform_(nn.Parameter(np.zeros(3))), ValueError,
     r"nn.init.kaiming_uniform_: fan in and fan out can not be computed"),
]  # fmt: skip


@pytest.mark.parametrize("call,exc,pattern", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_bad_layer_input_is_refused_by_name(call, exc, pattern) -> None:
    with pytest.raises(exc, match=pattern) as info:
        call()
    # the error is the layer's own, raised before NumPy was reached
    assert not isinstance(info.value, (AttributeError, np.exceptions.AxisError))
