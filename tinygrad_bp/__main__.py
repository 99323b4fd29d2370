"""``python -m tinygrad_bp`` runs the command line, like ``tinygrad-bp``."""

import sys

from .commands.cli import main

sys.exit(main())
