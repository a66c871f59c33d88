"""What the benchmarks share that is too small to import from the test suite for: the benchmarks
do not import ``tests`` (issue 14), so a test refactoring cannot break them unseen.

Larger helpers the tests and the benchmarks both use (``tests/databases.py``: PostgreSQL schemas
and ``rows``; ``tests/fake_bot_api.py``; ``tests/understanding_sets.py`` and its labelled sets) are
still imported from ``tests/`` until they move to a package of their own that both import:
copying them here would let the two copies drift apart.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now (the kernel's choice). Another
    process may take it before the caller binds it; the benchmarks hand it to a server at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
