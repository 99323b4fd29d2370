"""Hand-written layers in NumPy: the oracle the engine is checked against.

The package imports NumPy only, never the engine, so that agreeing with it proves
something; it loads even with the engine absent.  One module per family:

- :mod:`~tinygrad_bp.reference.dense`: the tutorial's fully connected network
  (:class:`Layer`, :class:`OutputLayer`, :class:`Network`), with the tutorial's
  conventions (``W (in, out)``, per-sample intermediate gradients; see that module);
- :mod:`~tinygrad_bp.reference.linear`: :class:`Linear` (PyTorch's ``weight (out, in)``)
  and :func:`softmax_cross_entropy`;
- :mod:`~tinygrad_bp.reference.conv`: :class:`Conv2d` (im2col and col2im),
  :class:`MaxPool2d`, :class:`AvgPool2d`;
- :mod:`~tinygrad_bp.reference.norm`: :class:`BatchNorm1d`, :class:`BatchNorm2d`,
  :class:`LayerNorm`;
- :mod:`~tinygrad_bp.reference.dropout`: :class:`Dropout`;
- :mod:`~tinygrad_bp.reference.embedding`: :class:`Embedding`;
- :mod:`~tinygrad_bp.reference.recurrent`: :class:`RNNCell`, :class:`LSTMCell`,
  :class:`GRUCell`, :class:`Unroll` (a cell stepped over time, backprop through time) and
  :class:`LSTM` (one layer over a sequence, batched where BPTT allows);
- :mod:`~tinygrad_bp.reference.attention`: :class:`CausalSelfAttention` (one head);
- :mod:`~tinygrad_bp.reference.steps`: whole training steps built from these layers (the
  benchmark's hand-written baselines for a CNN, an LSTM and a transformer with AdamW).

The layers other than the tutorial's follow PyTorch: its parameter names and layouts
(``weight``, ``bias``, a convolution's ``weight (C_out, C_in, kH, kW)``, images NCHW,
Linear-style ``(out, in)``), so ``load_state_dict`` takes a PyTorch module's or the
engine's weights unchanged.  The convention of every one of them:

- ``forward(x, ...)`` returns the output and saves what the backward needs (the layer's
  ``cache``);
- ``backward(dout)`` takes ``∂L/∂out`` (the shape of what forward returned) and returns a
  dict: ``"x"`` is ``∂L/∂x`` and every parameter's gradient is under the parameter's name
  (``"weight"``, ``"bias"``, ...).  These are plain chain-rule gradients of whatever ``L``
  is, no batch mean taken or added: give it ``∂L/∂out`` of a mean loss and the results are
  the gradients of that mean, as PyTorch's ``.grad`` would be.  An input that is not
  differentiable (Embedding's indices) has no entry.  The recurrent cells return their
  state's gradient too (``"h"``, and ``"c"`` for the LSTM cell) and take the state's
  incoming gradient as a second argument where there are two (``LSTMCell.backward(dh,
  dc)``); the sequence layers :class:`Unroll` and :class:`LSTM` take ``backward(douts,
  dstate=None)`` and return the initial state's (``"h0"``, and ``"c0"`` for an LSTM).
  ``Conv2d.backward(dout, input_grad=False)`` leaves ``"x"`` out (a first layer);
- ``backward`` before ``forward`` raises a RuntimeError that says so; bad shapes and
  arguments raise ValueError/TypeError naming the layer;
- ``state_dict()`` / ``load_state_dict()`` copy weights out and in by name (a failed load
  changes nothing), ``parameters()`` gives the arrays themselves, and ``train()`` /
  ``eval()`` switch the mode (BatchNorm and Dropout differ between them).
"""

from .attention import CausalSelfAttention
from .conv import AvgPool2d, Conv2d, MaxPool2d, col2im, im2col
from .dense import (
    HIDDEN_ACTIVATIONS,
    ORDERS,
    OUTPUT_ACTIVATIONS,
    WGRADS,
    Layer,
    Network,
    OutputLayer,
)
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear, softmax_cross_entropy
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm
from .recurrent import LSTM, GRUCell, LSTMCell, RNNCell, Unroll

__all__ = [
    "HIDDEN_ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
    "ORDERS",
    "WGRADS",
    "Layer",
    "OutputLayer",
    "Network",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "im2col",
    "col2im",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "Linear",
    "softmax_cross_entropy",
    "Dropout",
    "Embedding",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "Unroll",
    "LSTM",
    "CausalSelfAttention",
]
