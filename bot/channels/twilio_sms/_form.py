"""Reading Twilio's form posts, whatever container the web framework hands over.

Twilio posts ``application/x-www-form-urlencoded`` fields and signs every value of a repeated
field, so a form is kept as ordered (name, value) pairs, never squashed into a plain dict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

FormLike = Mapping[str, Any] | Iterable[tuple[str, str]]
"""A Starlette ``FormData``, a werkzeug/multidict ``MultiDict``, a Django ``QueryDict``, a plain
mapping of a name to a string (or to a list of strings), or a list of (name, value) pairs."""


def decode_form(body: bytes) -> list[tuple[str, str]]:
    """The (name, value) pairs of a URL-encoded body, in order, exactly as
    ``urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)`` gives them.

    Raises ``UnicodeDecodeError`` for a body that is not UTF-8. A field needs unquoting only when
    it holds ``%`` or ``+``, and most of Twilio's twenty-odd fields hold neither: they are split
    and kept as they are, which costs a third of what ``parse_qsl`` does (it unquotes every name
    and value, on every SMS webhook).

    >>> decode_form(b"Body=Hola+%C2%BFqu%C3%A9%3F&NumMedia=0&Empty=&Flag")
    [('Body', 'Hola ¿qué?'), ('NumMedia', '0'), ('Empty', ''), ('Flag', '')]
    """
    pairs: list[tuple[str, str]] = []
    for field in body.decode("utf-8").split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "%" in field or "+" in field:
            name, value = unquote_plus(name), unquote_plus(value)
        pairs.append((name, value))
    return pairs


def form_pairs(form: Any) -> list[tuple[str, Any]]:
    """Every (name, value) of ``form``, repeated names included, in the order given.

    >>> form_pairs([("MediaUrl", "a"), ("MediaUrl", "b")])
    [('MediaUrl', 'a'), ('MediaUrl', 'b')]
    >>> form_pairs({"Body": "hi", "Tag": ["x", "y"]})
    [('Body', 'hi'), ('Tag', 'x'), ('Tag', 'y')]
    """
    if form is None:
        return []
    if hasattr(form, "multi_items"):  # Starlette FormData / ImmutableMultiDict
        return list(form.multi_items())
    if hasattr(form, "getlist") and hasattr(form, "keys"):  # werkzeug MultiDict, Django QueryDict
        return [(name, value) for name in form.keys() for value in form.getlist(name)]
    if hasattr(form, "getall") and hasattr(form, "keys"):  # multidict (aiohttp)
        return [(name, value) for name in dict.fromkeys(form.keys()) for value in form.getall(name)]
    if isinstance(form, Mapping):
        pairs: list[tuple[str, Any]] = []
        for name, value in form.items():
            if isinstance(value, (list, tuple)):
                pairs.extend((name, item) for item in value)
            else:
                pairs.append((name, value))
        return pairs
    return [(name, value) for name, value in form]


class SignedParams(dict):
    """Names to lists of values, shaped for ``RequestValidator.compute_signature``: iterating
    gives the names, ``getall`` every value of one name (what the validator asks first: without
    it, it meets an AttributeError for every field before trying ``getlist``)."""

    def getall(self, name: str) -> list[str]:
        return self[name]

    getlist = getall


def signed_params(pairs: Iterable[tuple[str, str]]) -> SignedParams:
    params = SignedParams()
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return params


def first_values(form: Any) -> dict[str, str]:
    """Each field's first value, for the fields whose first value is text.

    >>> first_values([("Tag", "a"), ("Tag", "b"), ("N", 1), ("N", "2")])
    {'Tag': 'a'}
    """
    firsts = dict(reversed(form_pairs(form)))  # reversed: the first value of a name wins
    return {name: value for name, value in firsts.items() if isinstance(value, str)}

