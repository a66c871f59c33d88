"""The ``fake_bot_api`` fixture: the fake Telegram Bot API of ``testkit/fake_bot_api.py``, reset for
each test. Import it into the test module that uses it::

    from fake_bot_api import fake_bot_api  # noqa: F401  (the fixture)

The fake itself (``FakeBotApi``, ``call_problems``, ``most_in_any``, ...) is imported from
``testkit.fake_bot_api``, which the benchmarks share.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testkit.fake_bot_api import ApiDescriptionMissing, FakeBotApi, api_spec, shared_fake


@pytest.fixture
def fake_bot_api() -> Iterator[FakeBotApi]:
    """The running fake Bot API, reset for this test (``.url``, ``.token``, ``.calls``,
    ``.violations``, ``.fail(...)``, ``.push_update(...)``)."""
    try:
        api_spec()  # read here: missing, it fails this test with its reason, not the fake's requests
    except ApiDescriptionMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    fake = shared_fake()
    fake.reset()
    yield fake
    fake.reset()
