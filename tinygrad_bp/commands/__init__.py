"""The command line, above the library: ``tinygrad-bp`` and what its subcommands need.

- :mod:`.cli`: the entry point (``tinygrad-bp``, ``python -m tinygrad_bp``), one
  subcommand per module below, each with ``configure(parser)`` and ``main(args)``;
- :mod:`.train` (``train``), :mod:`.compare` and :mod:`.compare_layers` (``compare``),
  :mod:`.graph` (``graph``), :mod:`.bench` (``bench``), :mod:`.live` (``live``: the page's
  server, its training sessions and its data sets and models);
- :mod:`.models`: the later chapters' models, their data and their training loop;
- :mod:`._output`: how every command writes files (never over what it did not write).

The library below (the engine, ``functional``, ``nn``, ``optim``, ``data``, ``viz``) never
imports from here; ``pyproject.toml``'s import contract checks it.  Nothing is imported
when this package is: each command loads its module when it runs.
"""
