"""The catalog against what a flow names: text keys (missing, unknown placeholders, opt-out
words taught), match words, and the understanding of the flow's intents."""

from __future__ import annotations

from bot.domain.problems import Problem, where
from bot.flowdef.actions import SPECS
from bot.flowdef.model import Flow
from bot.flowdef.optout import CARRIER_OPT_OUT_WORDS, carrier_words_taught, teaches
from bot.flowdef.schema import ENGINE_PLACEHOLDERS
from bot.flowdef.uses import all_actions, forms, match_keys, text_keys
from bot.i18n import PLACEHOLDER, Catalog, LocaleData, fold

# Intents every flow must answer (DESIGN rules 3 and 5).
REQUIRED_INTENTS = ("exit", "crisis.self_harm", "crisis.danger")


def translation_problems(flow: Flow, catalog: Catalog) -> list[Problem]:
    problems = []
    allowed = set(flow.vars) | set(ENGINE_PLACEHOLDERS)
    for key, used_at in text_keys(flow).items():
        for code, data in catalog.locales.items():
            value = data.text.get(key)
            if value is None:
                if code == catalog.default:
                    problems.append(Problem(where(data.file, f"text.{key}"), f"missing (used at {flow.file}: {used_at})"))
                else:
                    problems.append(Problem(
                        where(data.file, f"text.{key}"), f"missing; {catalog.default} is shown instead", "warning"
                    ))
                continue
            for form, string in forms(value):
                for name in PLACEHOLDER.findall(string):
                    if name not in allowed:
                        problems.append(Problem(where(data.file, f"text.{key}{form}"), f"unknown placeholder {{{name}}}"))
    problems.extend(carrier_word_problems(catalog))
    for at, action in all_actions(flow):
        problems.extend(SPECS[action.type].problems(action, catalog, where(flow.file, at)))
    return problems


def carrier_word_problems(catalog: Catalog) -> list[Problem]:
    """Every text of every locale, used by a flow or not (the service and the console send
    ``handoff.*``, ``advocate.*`` and ``canned.*`` texts too): none may teach an opt-out word."""
    problems = []
    for data in catalog.locales.values():
        for key, value in data.text.items():
            for form, string in forms(value):
                for word in carrier_words_taught(string):
                    problems.append(Problem(where(data.file, f"text.{key}{form}"), teaches(word)))
    return problems


def match_problems(flow: Flow, catalog: Catalog) -> list[Problem]:
    problems = []
    for key, used_at in match_keys(flow).items():
        found = catalog.words(key)
        if not found:
            problems.append(Problem(where(flow.file, used_at), f"match words {key!r} are in no locale file"))
            continue
        for code, data in catalog.locales.items():
            if code not in found:
                problems.append(Problem(where(data.file, f"match.{key}"), "missing match words for this language", "warning"))
            for i, word in enumerate(found.get(code, ())):
                if fold(word) in CARRIER_OPT_OUT_WORDS:
                    problems.append(Problem(
                        where(data.file, f"match.{key}[{i}]"),
                        f"{word!r} is a carrier opt-out word: the carrier blocks the number and we never see it",
                    ))
    exact_commands = {
        fold(w): c.id for c in flow.commands if not c.contains for words in catalog.words(c.match).values() for w in words
    }
    for step in flow.steps.values():
        owner: dict[str, int] = {}
        for i, choice in enumerate(step.choices):
            words = {fold(w) for ws in catalog.words(choice.match).values() for w in ws} if choice.match else set()
            for word in sorted(words):
                at = where(flow.file, f"steps.{step.id}.choices[{i}].match")
                if word in owner and owner[word] != i:
                    problems.append(Problem(at, f"{word!r} also picks choice {owner[word] + 1}", "warning"))
                owner.setdefault(word, i)
                if word in exact_commands:
                    problems.append(Problem(at, f"{word!r} is the {exact_commands[word]} command, which wins", "warning"))
    return problems


def understanding_problems(flow: Flow, catalog: Catalog) -> list[Problem]:
    """The flow's ``intents`` against ``locales/understanding/``: the quick exit and crises must
    be answered and understood in every language, every other routed intent in the default
    language (a warning in another), and no whole-message phrase may be a carrier opt-out word."""
    problems = []
    for intent in REQUIRED_INTENTS:
        if intent not in flow.intents:
            problems.append(Problem(where(flow.file, "intents"), f"{intent!r} leads nowhere: DESIGN rules 3 and 5 need it answered"))
    for code, data in catalog.locales.items():
        name = understanding_file(data)
        understood = (data.understanding or {}).get("intents", {})
        for intent in flow.intents:
            if intent not in understood:
                # the quick exit and the crises are understood in every language, never by a fallback
                severity = "error" if code == catalog.default or intent in REQUIRED_INTENTS else "warning"
                problems.append(Problem(where(name, f"intents.{intent}"), f"missing (routed at {flow.file}: intents.{intent})", severity))
        for intent, body in understood.items():
            for i, phrase in enumerate(body.get("alone", ())):
                if fold(phrase) in CARRIER_OPT_OUT_WORDS:
                    problems.append(Problem(
                        where(name, f"intents.{intent}.alone[{i}]"),
                        f"{phrase!r} is a carrier opt-out word: the carrier blocks the number and we never see it",
                    ))
    return problems


def understanding_file(data: LocaleData) -> str:
    """How problems name a language's understanding data: ``locales/understanding/es.yaml``."""
    return data.file.replace("/", "/understanding/", 1) if "/" in data.file else f"understanding/{data.file}"
