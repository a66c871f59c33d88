"""``bot.i18n``: the catalog of languages, its fallback chain, placeholders, plural forms, ``fold``,
and the problems a bad locale file yields."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.domain.problems import ContentInvalid
from bot.i18n import Catalog, fold, load_catalog, read_catalog

REPO = Path(__file__).resolve().parent.parent


def write_locale(directory: Path, code: str, text: dict | None = None, match: dict | None = None, **fields) -> Path:
    document = {"language": code, "name": code.upper(), **fields, "text": text or {}, "match": match or {}}
    path = directory / f"{code}.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def catalog(tmp_path) -> Catalog:
    write_locale(
        tmp_path, "en",
        text={
            "only.en": "English only",
            "everywhere": "in English",
            "in.es": "in English too",
            "greet": "Hi {name}, call {phone}.",
            "messages": {"one": "{count} message", "other": "{count} messages"},
            "plain": "No placeholders {here}",
        },
        match={"match.yes": ["yes"], "match.en_only": ["ok"]},
    )
    write_locale(
        tmp_path, "es",
        text={"everywhere": "en español", "in.es": "en español", "greet": "Hola {name}, llama al {phone}."},
        match={"match.yes": ["sí", "si"]},
    )
    write_locale(tmp_path, "es-mx", text={"everywhere": "en español de México"})
    loaded, problems = read_catalog(tmp_path)
    assert problems == []
    return loaded


# -- languages and fallbacks ------------------------------------------------------------------------


def test_catalog_lists_every_language_with_en_as_default(catalog):
    assert sorted(catalog.languages) == ["en", "es", "es-mx"]
    assert catalog.default == "en"


@pytest.mark.parametrize(
    ("asked", "resolved"),
    [("es-MX", "es-mx"), ("es_MX", "es-mx"), ("es-AR", "es"), ("ES", "es"), ("en-US", "en"), ("fr", None), ("fr-CA", None), ("", None), (None, None)],
)
def test_resolve_gives_the_best_language_we_have(catalog, asked, resolved):
    assert catalog.resolve(asked) == resolved


def test_chain_goes_from_region_to_language_to_default(catalog):
    assert catalog.chain("es-MX") == ("es-mx", "es", "en")
    assert catalog.chain("es-AR") == ("es", "en")
    assert catalog.chain("fr") == ("en",)
    assert catalog.chain("en-GB") == ("en",)


@pytest.mark.parametrize(
    ("key", "lang", "expected"),
    [
        ("everywhere", "es-MX", "en español de México"),
        ("in.es", "es-MX", "en español"),
        ("only.en", "es-MX", "English only"),
        ("everywhere", "es", "en español"),
        ("only.en", "es", "English only"),
        ("everywhere", "fr", "in English"),
    ],
)
def test_text_falls_back_es_mx_then_es_then_en(catalog, key, lang, expected):
    assert catalog.text(key, lang) == expected


def test_missing_key_raises_key_error_only_when_no_language_has_it(catalog):
    assert catalog.text("only.en", "es") == "English only"
    with pytest.raises(KeyError):
        catalog.text("nowhere", "es-MX")
    with pytest.raises(KeyError):
        catalog.text("nowhere", "en")


def test_words_lists_match_words_of_every_language_that_has_them(catalog):
    assert catalog.words("match.yes") == {"en": ("yes",), "es": ("sí", "si")}
    assert catalog.words("match.en_only") == {"en": ("ok",)}
    assert catalog.words("match.none") == {}


# -- placeholders and plurals -----------------------------------------------------------------------


def test_placeholders_are_filled_in_the_chosen_language(catalog):
    assert catalog.text("greet", "es", name="Ana", phone="211") == "Hola Ana, llama al 211."
    assert catalog.text("greet", "en", name="Ana", phone="211") == "Hi Ana, call 211."


def test_placeholders_without_a_value_are_left_as_written(catalog):
    assert catalog.text("greet", "en", name="Ana") == "Hi Ana, call {phone}."
    assert catalog.text("greet", "en") == "Hi {name}, call {phone}."
    assert catalog.text("plain", "en", name="Ana") == "No placeholders {here}"


def test_values_are_not_reinterpreted_as_placeholders(catalog):
    assert catalog.text("greet", "en", name="{phone}", phone="211") == "Hi {phone}, call 211."


@pytest.mark.parametrize(("count", "expected"), [(1, "1 message"), (5, "5 messages"), (0, "0 messages"), (21, "21 messages")])
def test_english_plural_is_chosen_by_count(catalog, count, expected):
    assert catalog.text("messages", "en", count=count) == expected


def test_plural_without_count_uses_the_form_for_zero(catalog):
    assert catalog.text("messages", "en") == "{count} messages"


@pytest.fixture
def slavic(tmp_path) -> Catalog:
    write_locale(tmp_path, "en", text={"files": {"one": "{count} file", "other": "{count} files"}})
    write_locale(
        tmp_path, "pl",
        text={"files": {"one": "{count} plik", "few": "{count} pliki", "many": "{count} plików", "other": "{count} pliku"}},
    )
    write_locale(tmp_path, "ru", text={"files": {"one": "{count} файл", "other": "{count} файлов (other)"}})
    loaded, problems = read_catalog(tmp_path)
    assert problems == []
    return loaded


@pytest.mark.parametrize(
    ("count", "expected"),
    [(1, "1 plik"), (2, "2 pliki"), (4, "4 pliki"), (5, "5 plików"), (12, "12 plików"), (21, "21 plików"), (22, "22 pliki")],
)
def test_polish_plural_uses_cldr_one_few_many(slavic, count, expected):
    assert slavic.text("files", "pl", count=count) == expected


@pytest.mark.parametrize(("count", "expected"), [(1, "1 файл"), (21, "21 файл"), (3, "3 файлов (other)"), (11, "11 файлов (other)")])
def test_plural_form_missing_from_the_map_falls_back_to_other(slavic, count, expected):
    # Russian 21 is "one" (unlike English and Polish); "few" and "many" are not written, so "other".
    assert slavic.text("files", "ru", count=count) == expected


def test_count_is_available_as_a_placeholder_of_plain_strings(tmp_path):
    write_locale(tmp_path, "en", text={"left": "{count} left"})

    assert load_catalog(tmp_path).text("left", "en", count=3) == "3 left"


# -- fold -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "folded"),
    [("  MENÚ ", "menu"), ("Sí", "si"), ("Ayúdame", "ayudame"), ("ÑANDÚ", "nandu"), ("Straße", "strasse"), ("Über", "uber"), ("stop", "stop")],
)
def test_fold_lowercases_strips_and_removes_accents(typed, folded):
    assert fold(typed) == folded


# -- bad locale files -------------------------------------------------------------------------------


def problems_of(directory: Path) -> list[str]:
    _, problems = read_catalog(directory)
    return [str(p) for p in problems]


def test_text_value_of_wrong_type_is_located_by_key(tmp_path):
    write_locale(tmp_path, "en", text={"ok": "fine"})
    write_locale(tmp_path, "fr", text={"some.key": 5})

    assert problems_of(tmp_path) == ["locales/fr.yaml: text.some.key: 5 is not of type 'string'"]


def test_plural_map_without_other_is_located_by_key(tmp_path):
    write_locale(tmp_path, "en", text={"some.key": {"one": "{count} thing"}})

    problems = problems_of(tmp_path)

    assert problems == ["locales/en.yaml: text.some.key: 'other' is a required property"]


def test_plural_map_with_unknown_form_is_located_by_key(tmp_path):
    write_locale(tmp_path, "en", text={"some.key": {"other": "x", "several": "y"}})

    assert problems_of(tmp_path) == ["locales/en.yaml: text.some.key: unknown field 'several'"]


def test_empty_match_list_is_located_by_key(tmp_path):
    write_locale(tmp_path, "en", match={"match.yes": []})

    [problem] = problems_of(tmp_path)

    assert problem.startswith("locales/en.yaml: match.match.yes: ")


def test_language_that_does_not_match_the_file_name(tmp_path):
    write_locale(tmp_path, "en")
    (tmp_path / "de.yaml").write_text(yaml.safe_dump({"language": "fr", "name": "x", "text": {}, "match": {}}), encoding="utf-8")

    catalog, problems = read_catalog(tmp_path)

    assert [str(p) for p in problems] == ["locales/de.yaml: language: 'fr' does not match the file name"]
    assert catalog is not None and catalog.languages == ("en",)


def test_unknown_language_code(tmp_path):
    write_locale(tmp_path, "en")
    write_locale(tmp_path, "xx")

    assert problems_of(tmp_path) == ["locales/xx.yaml: language: 'xx' is not a known language"]


def test_missing_required_fields(tmp_path):
    write_locale(tmp_path, "en")
    (tmp_path / "es.yaml").write_text("language: es\nname: Español\n", encoding="utf-8")

    assert sorted(problems_of(tmp_path)) == [
        "locales/es.yaml: (top): 'match' is a required property",
        "locales/es.yaml: (top): 'text' is a required property",
    ]


def test_without_the_default_language_there_is_no_catalog(tmp_path):
    write_locale(tmp_path, "es")

    catalog, problems = read_catalog(tmp_path)

    assert catalog is None
    assert [str(p) for p in problems] == ["locales: the default language 'en' has no file"]
    with pytest.raises(ContentInvalid) as raised:
        load_catalog(tmp_path)
    assert [str(p) for p in raised.value.problems] == ["locales: the default language 'en' has no file"]


def test_load_catalog_raises_with_every_error(tmp_path):
    write_locale(tmp_path, "en")
    write_locale(tmp_path, "es", text={"a": 1})
    write_locale(tmp_path, "pt", text={"b": ["x"]})

    with pytest.raises(ContentInvalid) as raised:
        load_catalog(tmp_path)

    assert [p.where for p in raised.value.problems] == ["locales/es.yaml: text.a", "locales/pt.yaml: text.b"]


def test_empty_directory_is_a_problem_not_a_crash(tmp_path):
    catalog, problems = read_catalog(tmp_path)

    assert catalog is None
    assert [str(p) for p in problems] == [f"locales: no locale files (*.yaml) in {tmp_path}"]
    _, missing = read_catalog(tmp_path / "nowhere")
    assert "set SAFEHARBOR_CONTENT_DIR" in str(missing[0])


def test_real_locales_load_with_reveal_words_folded():
    catalog = load_catalog(REPO / "locales")

    assert set(catalog.languages) == {"en", "es"}
    assert all(word == fold(word) for data in catalog.locales.values() for word in data.reveal_words)
    assert "policia" in catalog.locales["es"].reveal_words
    assert all(data.sms_alphabet == "gsm7" for data in catalog.locales.values())
