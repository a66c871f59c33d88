"""Spanish as SMS sends it: accents are folded (``prepare_sms``: á -> a, é -> e, ...; ñ stays), so
a short word whose meaning rests on its accent reads as another word on the phone ("tú" -> "tu",
"your"; "sí" -> "si", "if"; "está" -> "esta", "this"; "qué" -> "que"). No Spanish text a person
can receive may use one: every text of ``locales/es.yaml`` (choice labels included, match words
excepted: they are read, not sent), every step's reply as the engine renders it (resource names
and hours included), and every Spanish name and hours in the resource directory.

Words whose unaccented form means nothing else, or the same thing ("información", "teléfono"),
may stay. The check reads the text before folding, so it names the word as written.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

import pytest

from bot.domain.messages import render_plain
from bot.domain.sms import prepare_sms
from bot.service import read_content

REPO = Path(__file__).resolve().parent.parent
LANGUAGE = "es"

# Accented words whose folded form is another word (or, for the interrogatives, reads as "that",
# "like", "where"... without the question): the accented form itself is what is looked for.
AMBIGUOUS = (
    "tú",  # tu: your
    "él",  # el: the
    "sí",  # si: if
    "está", "estás", "esté",  # esta, estas, este: this, these
    "éste", "ésta", "ése", "ésa", "éstos", "éstas",  # the same demonstratives
    "más",  # mas: but
    "qué", "quién", "quiénes", "cómo", "dónde", "adónde", "cuándo", "cuál", "cuáles",
    "cuánto", "cuánta", "cuántos", "cuántas",  # que, quien, como, donde...: no longer a question
    "sé",  # se: oneself
    "dé",  # de: of
    "mí",  # mi: my
    "aún",  # aun: even
    "sólo",  # solo: alone (written without the accent today anyway)
    "té",  # te: you
)
_WORD = re.compile(r"(?<!\w)(" + "|".join(sorted(map(re.escape, AMBIGUOUS), key=len, reverse=True)) + r")(?!\w)", re.IGNORECASE)


def ambiguous_words(text: str) -> list[str]:
    """The accent-dependent words in ``text``, lowercased, in order, each once."""
    normalized = unicodedata.normalize("NFC", text)
    return list(dict.fromkeys(m.group(1).lower() for m in _WORD.finditer(normalized)))


def spanish_texts(root: Path) -> dict[str, str]:
    """Every Spanish text a person can receive, by where it comes from."""
    content, problems = read_content(root)
    assert content is not None, problems
    texts: dict[str, str] = {}
    for key, value in content.catalog.locales[LANGUAGE].text.items():
        for form, string in ([("", value)] if isinstance(value, str) else [(f"[{k}]", v) for k, v in value.items()]):
            texts[f"locales/es.yaml: text.{key}{form}"] = string
    for name, flow in content.flows.items():
        engine = content.engines[name]
        for step in flow.steps:
            texts[f"flows/{name}: steps.{step} (rendered)"] = render_plain(engine.preview(step, LANGUAGE))
    for resource in content.directory.resources:
        names = dict(resource.name_translated)
        hours = dict(resource.hours_translated)
        texts[f"flows/resources: {resource.id}: name"] = names.get(LANGUAGE, resource.name)
        texts[f"flows/resources: {resource.id}: hours"] = hours.get(LANGUAGE, resource.hours)
    return texts


def problems_in(root: Path) -> dict[str, list[str]]:
    return {where: words for where, text in spanish_texts(root).items() if (words := ambiguous_words(text))}


# -- the check itself --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "words"), [
    ("¿Es seguro para ti? Sí, está bien.", ["sí", "está"]),
    ("Tú decides qué contar.", ["tú", "qué"]),
    ("¿CÓMO prefieres? ¿Dónde estás?", ["cómo", "dónde", "estás"]),
    ("Para mí, más tarde; aún no sé.", ["mí", "más", "aún", "sé"]),
    ("Su respuesta llega cuando él esté.", ["él", "esté"]),
    ("Co\u0301mo", ["cómo"]),  # a combining accent is the same letter
])
def test_the_accent_dependent_words_are_found(text, words):
    assert ambiguous_words(text) == words


@pytest.mark.parametrize("text", [
    "Puedes escribir de nuevo si quieres: claro, de acuerdo.",  # si, de: unaccented, as meant
    "Esta línea y este número son gratis. Tu teléfono, tu información.",
    "Tienes derechos, vengas de donde vengas, como cualquier persona.",
    "Un estándar, los años, el niño, la señal: ¿sigues ahí?",
])
def test_words_whose_folding_is_harmless_pass(text):
    assert ambiguous_words(text) == []


def test_folding_really_turns_each_word_into_another():
    for word in AMBIGUOUS:
        folded = prepare_sms(word, "gsm7")
        assert folded != word and folded.isascii(), word


# -- the real content ----------------------------------------------------------------------------------


def test_no_spanish_text_a_person_can_receive_has_an_accent_dependent_word():
    assert problems_in(REPO) == {}


def test_the_check_names_the_key_and_the_word_of_a_planted_one(tmp_path):
    for folder in ("flows", "locales"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    path = tmp_path / "locales" / "es.yaml"
    text = path.read_text(encoding="utf-8")
    old = "  choice.safe_no: \"Ahora no\"\n"
    assert text.count(old) == 1
    path.write_text(text.replace(old, "  choice.safe_no: \"Ahora no, más tarde\"\n"), encoding="utf-8")

    found = problems_in(tmp_path)

    assert found["locales/es.yaml: text.choice.safe_no"] == ["más"]
    assert all(words == ["más"] for words in found.values()), found  # the label, and the steps that show it
    assert "flows/main: steps.safe_check (rendered)" in found
