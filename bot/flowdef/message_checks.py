"""Every message the service or an advocate can send, read as it is sent: its lock-screen
preview (errors: any language's reveal words or the flow's hotline numbers in its first lines; a
language with no reveal words of its own), opt-out words the catalog checks cannot see (resource
names and notes), its SMS cost and encoding."""

from __future__ import annotations

from collections.abc import Callable

from bot.domain.messages import ChoiceView, Outbound, render_plain, with_appended
from bot.domain.problems import Problem, where
from bot.domain.sms import SMS_REPLACEMENTS, non_gsm7, prepare_sms, sms_cost
from bot.flowdef.actions import SPECS
from bot.flowdef.model import Flow, Step
from bot.flowdef.optout import carrier_words_taught, teaches
from bot.flowdef.preview import lock_screen_preview, revealing_words
from bot.flowdef.uses import NOT_GUESSED, forms
from bot.i18n import Catalog, fold

Render = Callable[[str, str], Outbound]  # (step id, language) -> the step's reply on entry

MAX_SEGMENTS = 3
# Messages the service or an advocate sends on their own, outside any step (handing the chat to a
# person, the console's canned replies): each opens a message, so its preview must be neutral too.
STANDALONE_PREFIXES = ("handoff.", "canned.", "limits.")
# Texts the service appends to the reply of a step that runs an action (asking for a person), in
# the same message (bot.service ``_with_extra``): read there, not on their own.
REPLY_EXTRAS = tuple(dict.fromkeys(key for spec in SPECS.values() for key in spec.reply_extras))
# The flow variables that hold the hotline's numbers: never in a lock-screen preview.
HOTLINE_VARS = ("hotline",)
# The minutes a deployment waits before a reminder (bot.config's default), for ``{minutes}``.
SAMPLE_MINUTES = 10


def message_problems(flow: Flow, catalog: Catalog, render: Render) -> list[Problem]:
    """Every message of ``flow`` in every language, as sent (see the module docstring); a
    language without reveal words of its own cannot be checked, and is an error too."""
    problems = reveal_word_problems(catalog)
    stems = lock_screen_stems(catalog, flow.vars)
    for code, data in catalog.locales.items():
        flagged = {w for key in data.text for _, string in forms(data.text[key]) for w in carrier_words_taught(string)}
        for at, reply in _messages(flow, catalog, render, code).items():
            place = where(flow.file, f"{at} ({code})")
            plain = render_plain(reply)
            problems.extend(_preview_problems(place, plain, stems))
            # a text of the catalog is reported where it is written; this catches the rest
            # (resource names and notes from the directory)
            for word in carrier_words_taught(plain):
                if word not in flagged:
                    problems.append(Problem(place, teaches(word)))
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


def plain_message_problems(place: str, text: str, flow: Flow, catalog: Catalog) -> list[Problem]:
    """A message the service sends as written in code rather than the catalog (the reply to a
    turn that failed, ``bot.service.FALLBACK_TEXT`` with ``flow``'s variables filled in), read as
    every catalog message is: its lock-screen preview neutral, no carrier opt-out word taught."""
    problems = _preview_problems(place, text, lock_screen_stems(catalog, flow.vars))
    problems.extend(Problem(place, teaches(word)) for word in carrier_words_taught(text))
    return problems


def lock_screen_stems(catalog: Catalog, flow_vars: dict[str, str]) -> tuple[str, ...]:
    """The stems no lock-screen preview may show, whatever its language: every language's
    ``reveal_words`` (whoever holds the phone may read any language offered, and messages mix
    them, as the bilingual greeting does) and the flow's hotline numbers (``vars`` named
    ``hotline*``, DESIGN rule 2), so a changed number is checked without editing every locale."""
    stems = [w for data in catalog.locales.values() for w in data.reveal_words]
    stems.extend(fold(str(value)) for name, value in flow_vars.items() if name.startswith(HOTLINE_VARS) and fold(str(value)))
    return tuple(dict.fromkeys(stems))


def reveal_word_problems(catalog: Catalog) -> list[Problem]:
    """Each language lists the words that would reveal the service in it (``reveal_words``):
    without them its messages' previews are read for other languages' words only."""
    return [
        Problem(where(data.file, "reveal_words"), (
            f"missing: list the words (stems) that would reveal the service on a lock screen in {data.name} "
            "(trafficking, shelter, visa, papers...); flows check reads every message's first lines for them"
        ))
        for data in catalog.locales.values() if not data.reveal_words
    ]


def _preview_problems(place: str, plain: str, stems: tuple[str, ...]) -> list[Problem]:
    preview = lock_screen_preview(plain)
    revealing = revealing_words(preview, stems)
    if not revealing:
        return []
    return [Problem(place, f"the lock-screen preview {preview!r} could reveal the service ({', '.join(revealing)})")]


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
                replies[f"steps.{step_id} + {key}"] = with_appended((reply,), text(key))[0]  # as the service appends it
    for key in default:
        if key.startswith(STANDALONE_PREFIXES) and key not in REPLY_EXTRAS:
            replies[f"text.{key}"] = Outbound(text(key))
    return replies


def _reply_extras(step: Step) -> tuple[str, ...]:
    """The texts the service may append to ``step``'s reply, for the actions it runs."""
    return tuple(dict.fromkeys(key for action in step.actions for key in SPECS[action.type].reply_extras))


def _render_or_none(render: Render, step_id: str, code: str, catalog: Catalog) -> Outbound | None:
    """The step's reply, or None when a text it needs is missing in the default language too
    (``translation_problems`` reports that as an error; the check must not crash on it)."""
    try:
        return render(step_id, code)
    except KeyError as exc:
        if exc.args and exc.args[0] not in catalog.locales[catalog.default].text:
            return None
        raise
