"""The console's words (console/i18n/ko.json, en.json) against the code that uses them.

Static: reads the files, runs no browser. Every key the JavaScript names exists in both
languages with a non-empty phrase and the same `{placeholders}`; no key sits unused. Keys
the code builds at run time (t(`role.${r}`)) are the families listed in FAMILIES below: a
new one in the code fails `test_every_key_built_at_run_time_is_a_listed_family` until it
is listed here with the values it can take.
"""

import json
import re
from pathlib import Path

import pytest

from chalicelib.domain.roles import ROLES

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "console"
LANGS = ("ko", "en")

# A family of keys built at run time -> the values its `${...}` can take, or None when the
# code tolerates a missing key (it shows the API's own word or message instead).
FAMILIES: dict[str, frozenset[str] | None] = {
    "role.": frozenset(ROLES),
    "city.grade.": frozenset({"good", "moderate", "bad", "very_bad", "unknown"}),
    "city.fill.": frozenset({"ok", "warn", "full", "unknown", "fault"}),
    "city.status.": frozenset({"online", "offline"}),
    "city.severity.": frozenset({"critical", "major", "minor"}),
    "city.kind.": frozenset({"air", "bin_full", "fault", "offline"}),
    "city.type.": frozenset({"shelter", "robot"}),
    "alert.clearsItself.": frozenset({"air", "offline"}),
    "alerts.state.": frozenset({"active", "cleared"}),
    "alerts.status.": frozenset({"active", "cleared", "all"}),
    "alerts.acknowledged.": frozenset({"any", "true", "false"}),
    "alerts.event.": frozenset(
        {"raised", "escalated", "acknowledged", "assigned", "commented", "cleared"}
    ),
    "quarantine.source.": frozenset({"deposits", "fleet", "rule-errors"}),
    "quarantine.status.": frozenset({"open", "reprocessed", "discarded"}),
    "quarantine.outcome.": frozenset({"credited", "duplicate", "refused", "rejected"}),
    "dead.kind.": frozenset({"dead_letter", "stream_failures"}),
    "shelter.mode.": frozenset({"auto", "high", "off"}),
    "money.status.": frozenset(
        {
            "running",
            "ready",
            "approved",
            "settled",
            "done",
            "pending",
            "rejected",
            "paid",
            "failed",
            "active",
        }
    ),
    "money.kind.": frozenset(
        {"recycling", "challenge_prize", "correction", "payout", "payout_reversal"}
    ),
    "money.material.": frozenset({"can", "pet"}),
    "money.run.reason.": frozenset({"all", "below_threshold", "no_account"}),
    # robot.js shows a material it has no word for as the robot named it
    "robot.material.": None,
    # widgets.js explains the codes it knows; any other shows the API's message
    "api.why.": None,
    # the project registry and the live services' KPIs (DESIGN §4d)
    "projects.funding.": frozenset({"national", "city"}),
    "projects.status.": frozenset({"planned", "in_progress", "done"}),
    "projects.col.": frozenset({"field", "status", "year"}),
    "kpi.period.": frozenset({"day", "week", "month"}),
    # a reason or a service the console has no word for shows the API's message or its id
    "projects.reason.": None,
    "projects.field.": None,
    "kpi.service.": None,
    "kpi.unit.": None,
}

_KEY = r"[a-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)+"
_LITERAL = re.compile(rf"""["']({_KEY})["']""")
_CALLED = re.compile(rf"""(?<![\w.$])t\(\s*["']({_KEY})["']""")
_TERNARY = re.compile(rf"""(?<![\w.$])t\([^()"'`]*\?\s*["']({_KEY})["']\s*:\s*["']({_KEY})["']""")
_NAV = re.compile(rf"""\bnav:\s*["']({_KEY})["']""")
_BUILT = re.compile(r"`([a-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*\.)\$\{")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _sources() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for path in sorted((CONSOLE / "js").rglob("*.js"))
    }


def _words() -> dict[str, dict[str, str]]:
    return {
        lang: json.loads((CONSOLE / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
        for lang in LANGS
    }


SOURCES = _sources()
WORDS = _words()


def _named() -> set[str]:
    """Keys the code names literally: t("..."), either side of t(x ? "a" : "b"), a route's nav."""
    keys: set[str] = set()
    for text in SOURCES.values():
        keys.update(_CALLED.findall(text))
        keys.update(_NAV.findall(text))
        for pair in _TERNARY.findall(text):
            keys.update(pair)
    return keys


def test_both_languages_have_the_same_keys() -> None:
    ko, en = (set(WORDS[lang]) for lang in LANGS)
    assert sorted(ko - en) == [], "in Korean only"
    assert sorted(en - ko) == [], "in English only"


@pytest.mark.parametrize("lang", LANGS)
def test_no_phrase_is_empty(lang: str) -> None:
    empty = sorted(
        key
        for key, phrase in WORDS[lang].items()
        if not isinstance(phrase, str) or not phrase.strip()
    )
    assert empty == []


def test_placeholders_are_the_same_in_both_languages() -> None:
    differ = {
        key: (
            sorted(set(_PLACEHOLDER.findall(phrase))),
            sorted(set(_PLACEHOLDER.findall(WORDS["en"].get(key, "")))),
        )
        for key, phrase in WORDS["ko"].items()
        if set(_PLACEHOLDER.findall(phrase)) != set(_PLACEHOLDER.findall(WORDS["en"].get(key, "")))
    }
    assert differ == {}


def test_every_key_the_code_names_exists() -> None:
    named = _named()
    assert len(named) > 300  # the scan found the console's words, not nothing
    assert sorted(named - set(WORDS["ko"])) == []


def test_every_key_built_at_run_time_is_a_listed_family() -> None:
    built = {prefix for text in SOURCES.values() for prefix in _BUILT.findall(text)}
    assert sorted(built - set(FAMILIES)) == [], (
        "a key built at run time: list its family in FAMILIES"
    )
    assert sorted(set(FAMILIES) - built) == [], "FAMILIES lists a family the code no longer builds"


def test_every_value_of_a_family_has_its_words() -> None:
    missing = sorted(
        prefix + value
        for prefix, values in FAMILIES.items()
        for value in values or ()
        if prefix + value not in WORDS["ko"]
    )
    assert missing == []


def test_no_key_is_unused() -> None:
    # a key is used when the code names it (anywhere, as a string) or a family builds it
    literals = {key for text in SOURCES.values() for key in _LITERAL.findall(text)}

    def built(key: str) -> bool:
        for prefix, values in FAMILIES.items():
            if key.startswith(prefix):
                rest = key[len(prefix) :]
                if values is None or rest in values:
                    return True
        return False

    unused = sorted(key for key in WORDS["ko"] if key not in literals and not built(key))
    assert unused == []


def test_no_page_carries_its_own_dictionary() -> None:
    carrying = sorted(name for name, text in SOURCES.items() if re.search(r"\bwords\(\s*\{", text))
    assert carrying == []
