"""What the benchmarks share that is too small for a module of its own. The benchmarks never import
``tests`` (issue 14; ``tests/test_architecture.py`` checks it), so a test refactoring cannot break
them unseen: what they share with the tests (PostgreSQL schemas and ``rows``, the fake Bot API,
the understanding sets) is in ``testkit/``, which both import.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now (the kernel's choice). Another
    process may take it before the caller binds it; the benchmarks hand it to a server at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
