"""The quick exit and the crises, in every language offered (DESIGN rules 3 and 5): errors.

A person writing in Spanish must be understood when they write "salir", "peligro" or "me quiero
morir", whatever the state; an English fallback is no help to them. So each locale file lists,
in its ``match`` section under the intent's own id, what a person writing in that language would
send for the quick exit and for each crisis::

    # locales/es.yaml
    match:
      exit: [salir, quiero salir, borra todo]
      crisis.danger: [peligro, auxilio, ayúdame, "911"]
      crisis.self_harm: [me quiero morir, quiero suicidarme]

and ``safety_problems`` runs each through understanding (``understand``: the message and the
language -> the intent answered before anything else, ``Understander.first``), which reads the
languages' data in ``locales/understanding/<code>.yaml`` (its ``intents.exit.alone`` phrases, its
``intents.crisis.*`` phrases). Every problem here is an error, at ``file: path``:

- ``locales/es.yaml: match.exit``: the language lists no such messages, or only numbers ("911"
  is no word of Spanish);
- ``locales/es.yaml: match.exit[0]``: a listed message is not understood as that intent (the
  data that understood it was removed), or is a carrier opt-out word (the carrier blocks the
  number and the service never sees it, DESIGN rule 4);
- ``locales/es.yaml: match.exit``: the language's own texts never teach one of its quick-exit
  words in capitals, as the greeting's "Escribe SALIR" does (so the word the texts teach and the
  word that is understood cannot drift apart unnoticed);
- ``locales/understanding/es.yaml: intents.exit``: the language's understanding data names the
  intent but has no phrases of its own for it (a missing intent is ``understanding_problems``').
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.domain.problems import Problem, where
from bot.flowdef.model import Flow
from bot.flowdef.optout import CARRIER_OPT_OUT_WORDS
from bot.flowdef.text_checks import REQUIRED_INTENTS, understanding_file
from bot.flowdef.uses import forms
from bot.i18n import Catalog, LocaleData, fold

# (message, language) -> the intent understanding answers first, in every state, or None
Understand = Callable[[str, str], "str | None"]

WHAT = {
    "exit": "the quick exit (DESIGN rule 3)",
    "crisis.danger": "danger, an emergency (DESIGN rule 5)",
    "crisis.self_harm": "thoughts of suicide or self-harm (DESIGN rule 5)",
}
# The parts of an intent's understanding data that answer it first, in every state: the quick
# exit only by its whole-message phrases; a crisis by a phrase anywhere or alone (its examples
# are read only after the step's own choices).
ANSWERED_BY = {"exit": ("alone",), "crisis.danger": ("phrases", "alone"), "crisis.self_harm": ("phrases", "alone")}
EXIT = "exit"
# A word written in capitals, as texts teach a word to type ("Escribe SALIR").
_CAPITALS = re.compile(r"(?<!\w)[^\W\d_]{2,}(?!\w)")


def safety_problems(flow: Flow, catalog: Catalog, understand: Understand) -> list[Problem]:
    """Every error of this module's docstring, for every locale of ``catalog``, in a stable order."""
    problems = []
    for code, data in catalog.locales.items():
        for intent in REQUIRED_INTENTS:
            problems.extend(_listed_problems(data, intent, understand))
            problems.extend(_data_problems(data, intent))
        problems.extend(_taught_exit_problems(data))
    return problems


def _listed_problems(data: LocaleData, intent: str, understand: Understand) -> list[Problem]:
    """The messages ``data`` lists for ``intent``: there, in words, each understood as it."""
    at = where(data.file, f"match.{intent}")
    listed = data.match.get(intent, ())
    if not any(ch.isalpha() for message in listed for ch in message):
        found = "lists only numbers" if listed else "is missing"
        return [Problem(at, (
            f"{found}: list what a person writing in {data.name} sends for {WHAT[intent]}, as they "
            "would write it; each must be understood, whatever the step"
        ))]
    problems = []
    for i, message in enumerate(listed):
        if fold(message) in CARRIER_OPT_OUT_WORDS:
            problems.append(Problem(
                f"{at}[{i}]", f"{message!r} is a carrier opt-out word: the carrier blocks the number and we never see it"
            ))
            continue
        got = understand(message, data.code)
        if got != intent:
            problems.append(Problem(f"{at}[{i}]", (
                f"{message!r} is not understood as {WHAT[intent]} but as {got or 'nothing'}: add it to "
                f"{understanding_file(data)} intents.{intent}.{ANSWERED_BY[intent][0]}"
            )))
    return problems


def _data_problems(data: LocaleData, intent: str) -> list[Problem]:
    """The language's understanding data answers ``intent`` with phrases of its own."""
    body = ((data.understanding or {}).get("intents") or {}).get(intent)
    if body is None or any(body.get(part) for part in ANSWERED_BY[intent]):
        return []  # missing altogether: understanding_problems reports it
    parts = " or ".join(f"`{part}`" for part in ANSWERED_BY[intent])
    return [Problem(
        where(understanding_file(data), f"intents.{intent}"),
        f"has no {parts} phrases: nothing written in {data.name} is understood as {WHAT[intent]} at once",
    )]


def _taught_exit_problems(data: LocaleData) -> list[Problem]:
    """The language's own texts (not a fallback's) teach one of its quick-exit words in capitals."""
    listed = {fold(message) for message in data.match.get(EXIT, ())}
    if not listed:
        return []  # reported as missing by _listed_problems
    taught = {
        fold(word)
        for value in data.text.values()
        for _, string in forms(value)
        for word in _CAPITALS.findall(string)
        if word.isupper()
    }
    if taught & listed:
        return []
    return [Problem(where(data.file, f"match.{EXIT}"), (
        f"no text of this file teaches one of these quick-exit words in capitals (as \"Type EXIT anytime\"): "
        f"a person writing in {data.name} must learn the word that works; teach one, or list the one taught"
    ))]
