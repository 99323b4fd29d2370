"""``tg.cuda``: PyTorch's ``torch.cuda`` habits on a library that runs on NumPy on the CPU:
no device is available, so the usual ``device = "cuda" if torch.cuda.is_available() else
"cpu"`` picks the CPU, and the seeding calls change nothing."""

from __future__ import annotations

from typing import Any

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all"]


def is_available() -> bool:
    """False: tinygrad_bp runs on NumPy on the CPU."""
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: Any) -> None:
    """As PyTorch's without a GPU: nothing to seed (``tg.manual_seed`` seeds the CPU)."""


def manual_seed_all(seed: Any) -> None:
    """As PyTorch's without a GPU: nothing to seed."""
