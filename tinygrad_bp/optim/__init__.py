"""Optimizers and learning-rate schedules, with PyTorch's names, update rules and
``state_dict`` layout (``torch.optim``).

- :class:`SGD` (momentum, dampening, Nesterov, L2 weight decay), :class:`Adam`
  (L2 weight decay, AMSGrad), :class:`AdamW` (decoupled weight decay), :class:`RMSprop`
  (momentum, centered), all with ``maximize``;
- parameter groups (``param_groups``, :meth:`Optimizer.add_param_group`),
  ``zero_grad(set_to_none=True)``, ``state_dict()`` / ``load_state_dict()``;
- :mod:`tinygrad_bp.optim.lr_scheduler`: ``StepLR``, ``CosineAnnealingLR``.

Parameters are updated in place (``p.data`` keeps its array), and ``.grad`` is never
modified by ``step()``.  Parameters whose ``.grad`` is ``None`` are skipped, as in PyTorch.
"""

from __future__ import annotations

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]
