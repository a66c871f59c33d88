"""Inspection of a loaded flow against the catalog: what the schema cannot see.

Errors (the flow must not be used): dead ends, keys missing in the default language, unknown
placeholders, carrier opt-out words taught (in any text, any case) or matched, a lock-screen
preview (the first ``PREVIEW_CHARS`` characters of any message the service or an advocate can
send, choices included) that could reveal the service, a language that has no locale file.
Warnings (``--strict`` fails on them): unreachable steps, keys or match words missing in another
language (the default language is shown instead), a message over 3 SMS segments, a GSM-7
language pushed into UCS-2, the same word picking two different things in one step.

``render(step_id, language)`` gives a step's reply on entry (the engine's ``preview``), so the
SMS cost and the lock-screen preview are those a person would really get, resource lists included.
Besides the steps, every other message is checked as it is sent: the reprompt, ``text_only``,
``edited`` and ``noted`` answers with each step's choices, the offer of guesses (``unsure``
followed by any label it may offer first), every standalone ``handoff.*``, ``canned.*`` and
``limits.*`` text,
the handoff texts the service appends to the reply of a step that asks for a person.

Text is normalized before it is read (``bot.understanding.words.fold_text``: compatibility forms,
invisible format characters dropped, look-alike letters of other scripts mapped to Latin), so
``Sh\u200belter`` or a Cyrillic ``ѕ`` are read as a phone shows them.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.domain.messages import ChoiceView, Outbound, Resource, render_plain
from bot.domain.problems import Problem, where
from bot.domain.sms import SMS_REPLACEMENTS, non_gsm7, prepare_sms, sms_cost
# The normalization free text is understood by (NFKC, format characters dropped, confusables
# mapped), so the check reads a message exactly as understanding reads one.
from bot.domain.text import fold_text
from bot.flowdef.actions import SPECS
from bot.flowdef.model import Flow, Step
from bot.flowdef.schema import ENGINE_PLACEHOLDERS
from bot.i18n import PLACEHOLDER, Catalog, fold

Render = Callable[[str, str], Outbound]

# Twilio blocks a number that sends one of these and the bot never sees it (DESIGN rule 4).
CARRIER_OPT_OUT_WORDS = frozenset(
    {"stop", "end", "quit", "cancel", "unsubscribe", "stopall", "revoke", "optout"}
)
# Intents every flow must answer (DESIGN rules 3 and 5), and those never offered as a guess.
REQUIRED_INTENTS = ("exit", "crisis.self_harm", "crisis.danger")
NOT_GUESSED = frozenset({"exit"})
MAX_SEGMENTS = 3
# What a lock screen shows of a new message: iOS "4 lines of text or 178 characters" (the largest
# common preview; Android shows less), https://bestconnections.org/ios-notifications-show-previews/
# (secondary source, checked 2026-12-01). Everything in this many characters must be neutral.
PREVIEW_CHARS = 178
# A resource entry whose `checked` date is older than this is due for a re-check (a warning).
DEFAULT_RESOURCE_MAX_AGE_MONTHS = 12
RESOURCES_FILE = "flows/resources"
# Messages the service or an advocate sends on their own, outside any step (handing the chat to a
# person, the console's canned replies): each opens a message, so its preview must be neutral too.
STANDALONE_PREFIXES = ("handoff.", "canned.", "limits.")
# Texts the service appends to the reply of a step that runs an action (asking for a person), in
# the same message (bot.service ``_with_extra``): read there, not on their own.
REPLY_EXTRAS = tuple(dict.fromkeys(key for spec in SPECS.values() for key in spec.reply_extras))
# The minutes a deployment waits before a reminder (bot.config's default), for ``{minutes}``.
SAMPLE_MINUTES = 10


@dataclass(frozen=True, slots=True)
class StepCost:
    step: str
    language: str
    encoding: str
    segments: int
    units: int


def inspect(flow: Flow, catalog: Catalog, render: Render) -> list[Problem]:
    """Every problem of ``flow``, errors and warnings, in a stable order."""
    return [
        *_graph_problems(flow),
        *_translation_problems(flow, catalog),
        *_match_problems(flow, catalog),
        *_understanding_problems(flow, catalog),
        *_message_problems(flow, catalog, render),
    ]


def step_costs(flow: Flow, catalog: Catalog, render: Render) -> list[StepCost]:
    """The SMS cost of every step's reply in every language, as the SMS adapter would send it."""
    rows = []
    for step_id in flow.steps:
        for code, data in catalog.locales.items():
            cost = sms_cost(prepare_sms(render_plain(render(step_id, code)), data.sms_alphabet))
            rows.append(StepCost(step_id, code, cost.encoding, cost.segments, cost.units))
    return rows


def reachable_steps(flow: Flow) -> set[str]:
    """Ids of the steps a person can reach: from the start, the menu, commands and intents."""
    seen, frontier = set(), [flow.start, flow.menu, *(c.goto for c in flow.commands), *flow.intents.values()]
    while frontier:
        step_id = frontier.pop()
        if step_id in seen or step_id not in flow.steps:
            continue
        seen.add(step_id)
        frontier.extend(flow.targets(flow.steps[step_id]))
    return seen


def _graph_problems(flow: Flow) -> list[Problem]:
    problems = []
    seen = reachable_steps(flow)
    for step in flow.steps.values():
        at = where(flow.file, f"steps.{step.id}")
        if step.id not in seen:
            problems.append(Problem(at, "unreachable: no choice, route or command leads here", "warning"))
        if not step.choices and not step.routes and not step.ends_conversation:
            problems.append(Problem(at, "dead end: no choices, no routes, and it does not end the conversation"))
    return problems


def _text_keys(flow: Flow) -> dict[str, str]:
    """text key -> where it is first used."""
    keys = {flow.reprompt: "reprompt", flow.text_only: "text_only", flow.edited: "edited"}
    if flow.intents:
        keys.setdefault(flow.unsure, "unsure")
        keys.setdefault(flow.noted, "noted")
        # each need can be offered as a guess, under its label
        for intent in flow.intents:
            if intent not in NOT_GUESSED:
                keys.setdefault(f"intent.{intent}", f"intents.{intent}")
    for step in flow.steps.values():
        for i, key in enumerate(step.say):
            keys.setdefault(key, f"steps.{step.id}.say[{i}]")
        for i, choice in enumerate(step.choices):
            keys.setdefault(choice.label, f"steps.{step.id}.choices[{i}].label")
        for action in step.actions:
            for key in SPECS[action.type].text_keys:
                keys.setdefault(key, f"steps.{step.id}.actions ({action.type})")
    return keys


def _match_keys(flow: Flow) -> dict[str, str]:
    keys = {}
    for i, command in enumerate(flow.commands):
        keys.setdefault(command.match, f"commands[{i}].match")
    for step in flow.steps.values():
        for i, choice in enumerate(step.choices):
            if choice.match:
                keys.setdefault(choice.match, f"steps.{step.id}.choices[{i}].match")
        for i, route in enumerate(step.routes):
            keys.setdefault(route.match, f"steps.{step.id}.routes[{i}].match")
    return keys


def _all_actions(flow: Flow):
    for step in flow.steps.values():
        for action in step.actions:
            yield f"steps.{step.id}.actions", action
        for i, choice in enumerate(step.choices):
            for action in choice.actions:
                yield f"steps.{step.id}.choices[{i}].actions", action


def _translation_problems(flow: Flow, catalog: Catalog) -> list[Problem]:
    problems = []
    allowed = set(flow.vars) | set(ENGINE_PLACEHOLDERS)
    for key, used_at in _text_keys(flow).items():
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
            for form, string in _forms(value):
                for name in PLACEHOLDER.findall(string):
                    if name not in allowed:
                        problems.append(Problem(where(data.file, f"text.{key}{form}"), f"unknown placeholder {{{name}}}"))
    problems.extend(_carrier_word_problems(catalog))
    for at, action in _all_actions(flow):
        problems.extend(SPECS[action.type].problems(action, catalog, where(flow.file, at)))
    return problems


def _carrier_word_problems(catalog: Catalog) -> list[Problem]:
    """Every text of every locale, used by a flow or not (the service and the console send
    ``handoff.*``, ``advocate.*`` and ``canned.*`` texts too): none may teach an opt-out word."""
    problems = []
    for data in catalog.locales.values():
        for key, value in data.text.items():
            for form, string in _forms(value):
                for word in carrier_words_taught(string):
                    problems.append(Problem(where(data.file, f"text.{key}{form}"), _teaches(word)))
    return problems


def _teaches(word: str) -> str:
    return (
        f"teaches the carrier opt-out word {word.upper()!r}: a person who sends it is blocked by the carrier "
        "and we never see it; say it another way"
    )


def carrier_words_taught(text: str) -> list[str]:
    """The carrier opt-out words (``CARRIER_OPT_OUT_WORDS``) that ``text`` contains as words of
    their own, lowercase, in order of first appearance.

    Twilio blocks a number whose whole message is one of these words, in any case, so a text that
    uses one at all ("you can stop anytime", "Stop.", "send END") suggests a reply that silently
    cuts the person off (DESIGN rule 4). Only whole words count: "depend", "stopped", "weekend",
    "cancelar" do not. The text is normalized first (invisible characters dropped, look-alike
    letters mapped, accents and case folded), so "ST\u200bOP" or a Cyrillic "ЕND" are caught.

    >>> carrier_words_taught("You can stop anytime, or send END.")
    ['stop', 'end']
    >>> carrier_words_taught("It depends; we stopped the weekend plan.")
    []
    """
    found = fold(fold_text(text)).split()
    return list(dict.fromkeys(word for word in found if word in CARRIER_OPT_OUT_WORDS))


def _forms(value: str | dict[str, str]) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield "", value
    else:
        yield from ((f".{form}", string) for form, string in value.items())


def _match_problems(flow: Flow, catalog: Catalog) -> list[Problem]:
    problems = []
    for key, used_at in _match_keys(flow).items():
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


def _understanding_problems(flow: Flow, catalog: Catalog) -> list[Problem]:
    """The flow's ``intents`` against ``locales/understanding/``: the quick exit and crises must
    be answered, every routed intent must be understood in the default language (a warning in
    another), and no whole-message phrase may be a carrier opt-out word."""
    problems = []
    for intent in REQUIRED_INTENTS:
        if intent not in flow.intents:
            problems.append(Problem(where(flow.file, "intents"), f"{intent!r} leads nowhere: DESIGN rules 3 and 5 need it answered"))
    for code, data in catalog.locales.items():
        name = data.file.replace("/", "/understanding/", 1) if "/" in data.file else f"understanding/{data.file}"
        understood = (data.understanding or {}).get("intents", {})
        for intent in flow.intents:
            if intent not in understood:
                severity = "error" if code == catalog.default else "warning"
                problems.append(Problem(where(name, f"intents.{intent}"), f"missing (routed at {flow.file}: intents.{intent})", severity))
        for intent, body in understood.items():
            for i, phrase in enumerate(body.get("alone", ())):
                if fold(phrase) in CARRIER_OPT_OUT_WORDS:
                    problems.append(Problem(
                        where(name, f"intents.{intent}.alone[{i}]"),
                        f"{phrase!r} is a carrier opt-out word: the carrier blocks the number and we never see it",
                    ))
    return problems


def _message_problems(flow: Flow, catalog: Catalog, render: Render) -> list[Problem]:
    problems = []
    for code, data in catalog.locales.items():
        stems = catalog.reveal_words(code)
        flagged = {w for key in data.text for _, string in _forms(data.text[key]) for w in carrier_words_taught(string)}
        for at, reply in _messages(flow, catalog, render, code).items():
            place = where(flow.file, f"{at} ({code})")
            plain = render_plain(reply)
            preview = lock_screen_preview(plain)
            revealing = revealing_words(preview, stems)
            if revealing:
                problems.append(Problem(
                    place, f"the lock-screen preview {preview!r} could reveal the service ({', '.join(revealing)})"
                ))
            # a text of the catalog is reported where it is written; this catches the rest
            # (resource names and notes from the directory)
            for word in carrier_words_taught(plain):
                if word not in flagged:
                    problems.append(Problem(place, _teaches(word)))
            if at.startswith("unsure after"):
                continue  # a label shown after the offer text: its cost is that of the offer
            sent = prepare_sms(plain, data.sms_alphabet)
            cost = sms_cost(sent)
            if cost.segments > MAX_SEGMENTS:
                problems.append(Problem(
                    place, f"{cost.segments} SMS segments ({cost.encoding}, {cost.units} units); keep it to {MAX_SEGMENTS}", "warning"
                ))
            if data.sms_alphabet != "gsm7" or not at.startswith("steps."):
                continue
            typographic = "".join(dict.fromkeys(ch for ch in plain if ch in SMS_REPLACEMENTS))
            if typographic and sms_cost(plain).encoding == "UCS-2":
                problems.append(Problem(
                    place, f"typographic characters {typographic!r} push this GSM-7 language into UCS-2; write them plainly", "warning"
                ))
            if cost.encoding == "UCS-2":
                problems.append(Problem(
                    place, f"characters {non_gsm7(sent)!r} are not GSM-7: sent as UCS-2 ({cost.segments} segments)", "warning"
                ))
    return problems


def _messages(flow: Flow, catalog: Catalog, render: Render, code: str) -> dict[str, Outbound]:
    """Every message the service or an advocate can send in ``code``, by where it comes from.

    A step's reply on entry; each answer the engine gives in a step instead (reprompt, a photo,
    an edit, a note while waiting), with that step's choices, as ``_reprompt`` sends it; the offer
    of guesses followed by each label it may put first; the texts the service adds to the reply of
    a step that asks for a person (in that message, never alone); every other ``handoff.*`` and
    ``canned.*`` text on its own (an advocate's reply, a note waiting for the next message).
    """
    default = catalog.locales[catalog.default].text
    values = {"minutes": SAMPLE_MINUTES, **flow.vars}

    def text(key: str) -> str:
        return catalog.text(key, code, **values)

    replies: dict[str, Outbound] = {}
    rendered: dict[str, Outbound] = {}
    for step_id in flow.steps:
        reply = _render_or_none(render, step_id, code, catalog)
        if reply is not None:
            rendered[step_id] = replies[f"steps.{step_id}"] = reply
    answers = [getattr(flow, f) for f in ("reprompt", "text_only", "edited")]
    if flow.intents:
        answers.append(flow.noted)
    for key in dict.fromkeys(answers):
        if key not in default:
            continue
        for step_id, reply in rendered.items():
            step = flow.steps[step_id]
            if step.ends_conversation:
                continue  # the next message starts a new conversation
            body = text(key) if step.choices else f"{text(key)}\n{reply.text}"
            replies[f"{key} in steps.{step_id}"] = Outbound(body, reply.choices)
    if flow.intents and flow.unsure in default:
        labels = [f"intent.{i}" for i in flow.intents if i not in NOT_GUESSED] + ["choice.menu"]
        for label in dict.fromkeys(labels):
            if label in default:
                replies[f"unsure after {flow.unsure}: {label}"] = Outbound(text(flow.unsure), (ChoiceView(1, text(label)),))
    for step_id, reply in rendered.items():
        for key in _reply_extras(flow.steps[step_id]):
            if key in default:
                replies[f"steps.{step_id} + {key}"] = Outbound(f"{reply.text}\n\n{text(key)}", reply.choices)
    for key in default:
        if key.startswith(STANDALONE_PREFIXES) and key not in REPLY_EXTRAS:
            replies[f"text.{key}"] = Outbound(text(key))
    return replies


def _reply_extras(step: Step) -> tuple[str, ...]:
    """The texts the service may append to ``step``'s reply, for the actions it runs."""
    return tuple(dict.fromkeys(key for action in step.actions for key in SPECS[action.type].reply_extras))


def _render_or_none(render: Render, step_id: str, code: str, catalog: Catalog) -> Outbound | None:
    """The step's reply, or None when a text it needs is missing in the default language too
    (``_translation_problems`` reports that as an error; the check must not crash on it)."""
    try:
        return render(step_id, code)
    except KeyError as exc:
        if exc.args and exc.args[0] not in catalog.locales[catalog.default].text:
            return None
        raise


def lock_screen_preview(text: str) -> str:
    """What a lock screen or notification may show of ``text``: its first ``PREVIEW_CHARS``
    visible characters, lines joined, to the end of the word they cut.

    Invisible format characters (zero-width spaces and joiners, direction marks) take no room on
    a screen, so they are dropped before counting, as are compatibility forms (NFKC).

    >>> lock_screen_preview("Hi.\nHere are\u200b some options.")
    'Hi. Here are some options.'
    """
    visible = "".join(ch for ch in unicodedata.normalize("NFKC", text) if not _takes_no_room(ch))
    flat = " ".join(visible.split())
    if len(flat) <= PREVIEW_CHARS:
        return flat
    end = flat.find(" ", PREVIEW_CHARS)
    return flat if end < 0 else flat[:end]


def _takes_no_room(ch: str) -> bool:
    """Characters a screen draws inside or over their neighbour, so the preview's count skips
    them: format characters, combining marks (accents, emoji variation selectors), modifier
    symbols (skin tones), and regional indicators (two make one flag). A zero-width-joined
    emoji sequence still counts each emoji: the preview read is then a little shorter, never
    longer, than what shows."""
    category = unicodedata.category(ch)
    return category in ("Cf", "Mn", "Me", "Sk") or "\U0001F1E6" <= ch <= "\U0001F1FF"


def _digits_joined(folded: str) -> str:
    """``folded`` with what separates digits removed (``1 888 3737 888`` -> ``18883737888``)."""
    return re.sub(r"(?<=\d)[^a-z0-9]+(?=\d)", "", folded)


def revealing_words(line: str, stems: tuple[str, ...]) -> list[str]:
    """The ``stems`` (folded, as ``Catalog.reveal_words`` gives them) that start a word of
    ``line``, read as a person would: invisible characters dropped, look-alike letters of other
    scripts mapped to Latin, case, accents and punctuation folded (``Sh\u200belter``,
    ``ѕhelter`` with a Cyrillic ``ѕ``, ``1‑888‑373‑7888`` all show their stems).

    A number stem (digits, spaces or dashes) is also found inside a run of digits however it is
    written (``18883737888``, ``+1 888 3737 888``); one of fewer than five digits (``911``) only
    as a whole number, so a longer number merely containing it is not flagged.

    >>> revealing_words("Call 1-888-373-7888 about the Sh\u200belter", ("shelter", "373 7888", "visa"))
    ['shelter', '373 7888']
    >>> revealing_words("Call +1 888 3737 888 or 18883737888", ("373 7888", "911"))
    ['373 7888']
    """
    folded = fold(fold_text(line))
    joined = None
    found = []
    for stem in stems:
        if re.search(rf"(?<![a-z0-9]){re.escape(stem)}", folded):
            found.append(stem)
            continue
        digits = re.sub(r"[\s-]", "", stem)
        if digits.isdigit():
            joined = _digits_joined(folded) if joined is None else joined
            pattern = re.escape(digits) if len(digits) >= 5 else rf"(?<!\d){re.escape(digits)}(?!\d)"
            if re.search(pattern, joined):
                found.append(stem)
    return found


class ResourceDirectory(Protocol):
    """What the resource checks need of the directory (the store's ``Directory`` is one)."""

    resources: Sequence[Resource]

    def find(self, category: str, language: str, limit: int, audience: str = "") -> Sequence[Resource]: ...


def resource_problems(
    flows: Iterable[Flow],
    catalog: Catalog,
    directory: ResourceDirectory,
    today: dt.date,
    max_age_months: int = DEFAULT_RESOURCE_MAX_AGE_MONTHS,
) -> list[Problem]:
    """Warnings about the directory against the flows that list it, as of ``today``.

    Both kinds are warnings, not errors (``--strict`` fails on them, so CI cannot regress): an
    entry no step shows, or one due for a re-check, is help a person does not get or a claim to
    re-confirm, but it harms no one the way a broken flow would, and errors would stop a running
    deployment from loading its content (an old date must not take the service down).
    """
    return [*unlisted_resources(flows, catalog, directory), *stale_resources(directory, today, max_age_months)]


def listed_resource_ids(flows: Iterable[Flow], catalog: Catalog, directory: ResourceDirectory) -> set[str]:
    """Ids of the entries some reachable step's ``list_resources`` shows, in any language."""
    shown: set[str] = set()
    for flow in flows:
        reachable = reachable_steps(flow)
        for at, action in _all_actions(flow):
            lists = SPECS[action.type].resources
            if lists is None or at.split(".")[1] not in reachable:
                continue
            query = lists(action)
            for code in catalog.locales:
                shown.update(r.id for r in directory.find(query.category, code, query.limit, query.audience))
    return shown


def unlisted_resources(flows: Iterable[Flow], catalog: Catalog, directory: ResourceDirectory) -> list[Problem]:
    """One warning per directory entry that no reachable step can ever show (its categories
    are listed nowhere, or always past the step's ``limit``, or its audience has no step)."""
    shown = listed_resource_ids(flows, catalog, directory)
    problems = []
    for resource in directory.resources:
        if resource.id in shown:
            continue
        needs = ", ".join(resource.categories)
        audience = f" for {', '.join(resource.audiences)}" if resource.audiences else ""
        problems.append(Problem(
            _resource_at(resource),
            f"no step ever shows this entry ({needs}{audience}): no reachable list_resources step lists it within its "
            "limit, in any language; add a step, raise a limit, or move the entry up in its file",
            "warning",
        ))
    return problems


def stale_resources(directory: ResourceDirectory, today: dt.date, max_age_months: int = DEFAULT_RESOURCE_MAX_AGE_MONTHS) -> list[Problem]:
    """One warning per entry whose ``checked`` date is older than ``max_age_months`` before
    ``today`` (or later than today). ``today`` is passed in so a test can fix the clock."""
    if max_age_months < 0:
        raise ValueError(f"max_age_months must be 0 or more, not {max_age_months}")
    oldest = months_before(today, max_age_months)
    problems = []
    for resource in directory.resources:
        checked = dt.date.fromisoformat(resource.checked)
        if checked < oldest:
            problems.append(Problem(
                _resource_at(resource),
                f"checked {resource.checked}, more than {max_age_months} month(s) before {today.isoformat()}: "
                f"re-check it against {resource.source} and update `checked`",
                "warning",
            ))
        elif checked > today:
            problems.append(Problem(_resource_at(resource), f"checked {resource.checked} is after today ({today.isoformat()})", "warning"))
    return problems


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months earlier (the month's last day when it is shorter).

    >>> months_before(dt.date(2026, 3, 31), 1)
    datetime.date(2026, 2, 28)
    """
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _resource_at(resource: Resource) -> str:
    return where(RESOURCES_FILE, f"{resource.region}: {resource.id}")
