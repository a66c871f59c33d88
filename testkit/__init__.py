"""What the test suite (``tests/``) and the benchmarks (``bench/``) both use, so that neither
imports the other: a refactoring of the tests cannot break a benchmark unseen.

- ``databases``: the PostgreSQL server the suite and the benchmarks run on (a fresh schema each,
  dropped afterwards), ``rows`` and ``stored_bytes`` on either database;
- ``fake_bot_api``: a fake Telegram Bot API checked against the real API description;
- ``understanding_sets``: the labelled message sets in ``understanding/`` and their scoring.

pytest fixtures stay in ``tests/`` (this package does not import pytest). Not part of the
installed package: the test run finds it through pytest's ``pythonpath`` (pyproject.toml), the
benchmarks by putting the repository's root on ``sys.path``.
"""
