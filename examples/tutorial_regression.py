"""The tutorial's regression case: a linear output layer with the square loss.

With ŷ = a (no activation on the output) and L = (1/N) Σ ½‖ŷ − y‖², the output layer's
∂L/∂a is (ŷ − y)/N, the same shortcut as softmax + cross-entropy.  That loss is
F.half_squared_error; F.mse_loss (PyTorch's: the mean over all N·D elements of (ŷ − y)²)
is 2/D times it.

The data is tinygrad_bp.data.make_regression: 4 inputs uniform on [-1, 1], 3 smooth
nonlinear targets plus noise, seeded.  A quarter is held out; the features are
standardised with the training rows' statistics.  The network is the tutorial's shape,
4 → 10 tanh → 5 tanh → 3 linear, tutorial initialisation, full-batch gradient descent.
(The tutorial's lr 0.01 learns this set slowly; 0.3 is the default here.)

    python examples/tutorial_regression.py [--epochs 2000] [--lr 0.3] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_bp as tg
from tinygrad_bp import functional as F
from tinygrad_bp import nn, optim
from tinygrad_bp.data import make_regression, standardize, train_test_split


def r2(pred: np.ndarray, y: np.ndarray) -> float:
    return float(1 - ((pred - y) ** 2).sum() / ((y - y.mean(axis=0)) ** 2).sum())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X, Y = make_regression(200, noise=0.05, seed=0)
    X_tr, Y_tr, X_te, Y_te = train_test_split(X, Y, 0.25, seed=args.seed)
    Z_tr, mean, std = standardize(X_tr)
    Z_te, _, _ = standardize(X_te, mean, std)
    x_tr, x_te = tg.Tensor(Z_tr), tg.Tensor(Z_te)

    model = nn.mlp([4, 10, 5, 3], activation="tanh", init="tutorial", rng=args.seed)
    opt = optim.SGD(model.parameters(), lr=args.lr)
    print(f"4-10-5-3 tanh, linear output: full batch, lr {args.lr}, {args.epochs} epochs")
    for epoch in range(1, args.epochs + 1):
        opt.zero_grad()
        loss = F.half_squared_error(model(x_tr), Y_tr)
        loss.backward()
        opt.step()
        if epoch % max(1, args.epochs // 4) == 0 or epoch == args.epochs:
            with tg.no_grad():
                test = F.half_squared_error(model(x_te), Y_te).item()
            print(f"  epoch {epoch:5d}  train loss {loss.item():.4f}  test loss {test:.4f}")
    with tg.no_grad():
        pred_tr, pred_te = model(x_tr), model(x_te)
        half = F.half_squared_error(pred_te, Y_te).item()
        mse = F.mse_loss(pred_te, tg.Tensor(Y_te)).item()
    print(f"  R²: train {r2(pred_tr.data, Y_tr):.3f}, test {r2(pred_te.data, Y_te):.3f}")
    print(f"  test: mean ½‖ŷ−y‖² {half:.4f}; F.mse_loss {mse:.4f} = 2/3 × {half:.4f}")


if __name__ == "__main__":
    main()
