"""The tutorial's classification experiments on Iris, with the engine.

The notebook of 反向传播详解BP trained two models on the 150 Iris flowers (features
standardised over the whole set), full batch, learning rate 0.01, 2000 epochs, weights
drawn from N(0, 0.1²) and zero biases:

1. a single softmax layer 4 → 3 (multinomial logistic regression);
2. the three-layer network 4 → 10 tanh → 5 tanh → 3 softmax.

Each is trained here on the engine (nn.Dense + F.cross_entropy + optim.SGD), and, from
the same initial weights, by the hand-written tutorial network in the tutorial's own
order (each layer updates its W before passing ∂L/∂a·Wᵀ down), to show how little that
order changes at this learning rate.

    python examples/tutorial_classification.py [--epochs 2000] [--lr 0.01] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_bp as tg
from tinygrad_bp import functional as F
from tinygrad_bp import nn, optim
from tinygrad_bp.data import load_iris, standardize
from tinygrad_bp.reference import Network


def run(sizes: list[int], X: np.ndarray, y: np.ndarray, epochs: int, lr: float, seed: int):
    model = nn.mlp(sizes, activation="tanh", init="tutorial", rng=seed)
    hand = Network.from_sizes(sizes, "tanh", "softmax")
    hand.load_state_dict(model.state_dict())  # the same starting weights
    opt = optim.SGD(model.parameters(), lr=lr)
    x = tg.Tensor(X)
    for epoch in range(1, epochs + 1):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)  # softmax + mean cross-entropy, fused
        loss.backward()
        opt.step()
        hand.train_step(X, y, lr=lr, order="tutorial")
        if epoch % max(1, epochs // 4) == 0 or epoch == epochs:
            acc = (model(x).data.argmax(axis=1) == y).mean()
            print(f"  epoch {epoch:5d}  loss {loss.item():.4f}  accuracy {acc:.3f}")
    engine_acc = (model(x).data.argmax(axis=1) == y).mean()
    hand_acc = (hand.forward(X).argmax(axis=1) == y).mean()
    diff = max(np.abs(model.state_dict()[k] - v).max() for k, v in hand.state_dict().items())
    print(
        f"  final accuracy: engine {engine_acc:.4f}, hand-written in the tutorial's order "
        f"{hand_acc:.4f} (largest weight difference {diff:.1e})"
    )
    return engine_acc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    X, y = load_iris()
    Z, _, _ = standardize(X)  # the notebook standardised the whole set
    for title, sizes in (
        ("single softmax layer 4-3", [4, 3]),
        ("three layers 4-10-5-3, tanh", [4, 10, 5, 3]),
    ):
        print(f"{title}: full batch, lr {args.lr}, {args.epochs} epochs, seed {args.seed}")
        run(sizes, Z, y, args.epochs, args.lr, args.seed)


if __name__ == "__main__":
    main()
