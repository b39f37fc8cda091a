"""The one public-name rule (chalicelib.domain.names) on Unicode's own data: every
default-ignorable code point, lone and stacked marks, look-alikes of reserved words by TR39
skeleton, mixed scripts in one word, and width. Korean names keep working."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import names
from chalicelib.domain import unicode_names as ucd
from chalicelib.domain.names import DISPLAY_NAME, HOLDER, TITLE, NameRefused, judge

ROOT = Path(__file__).resolve().parents[2]
DATA = json.loads((ROOT / "chalicelib" / "data" / "unicode_names.json").read_text("utf-8"))
DEFAULT_IGNORABLE = [
    chr(cp)
    for first, last in DATA["default_ignorable"]
    for cp in range(first, last + 1)
    if unicodedata.category(chr(cp)) != "Cn"
]


def _refused(text: str, rule: names.NameRule = DISPLAY_NAME) -> NameRefused:
    with pytest.raises(NameRefused) as caught:
        judge(text, rule)
    return caught.value


# -- invisible characters ----------------------------------------------------------------


@pytest.mark.parametrize(
    "char",
    [
        "\u180b", "\u180c", "\u180d", "\u180e", "\u180f",  # Mongolian selectors, separator
        "\u17b4", "\u17b5",  # Khmer inherent vowels
        "\u034f",  # combining grapheme joiner
        "\ufe00", "\ufe0e", "\ufe0f", "\U000e0100", "\U000e01ef",  # variation selectors
        "\u115f", "\u1160", "\u3164", "\uffa0",  # Hangul fillers
        "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad",  # zero-width, soft hyphen
        "\u202e", "\u2066", "\u200e", "\u061c",  # bidi controls
        "\U000e0041", "\u2800",  # a tag letter; the braille blank
    ],
)  # fmt: skip
def test_an_invisible_character_is_refused_by_class_and_position(char: str) -> None:
    refused = _refused(f"김해{char}민수")
    assert refused.reason == "invisible_character"
    assert refused.position == 3 and refused.char == char
    assert f"U+{ord(char):04X}" in str(refused) and "position 3" in str(refused)


def test_every_default_ignorable_code_point_of_unicode_is_refused() -> None:
    assert len(DEFAULT_IGNORABLE) > 400  # the whole property, not a hand-picked few
    for char in DEFAULT_IGNORABLE:
        for rule in (DISPLAY_NAME, TITLE, HOLDER):
            assert _refused(f"ab{char}cd", rule).reason == "invisible_character", hex(ord(char))


@settings(deadline=None)
@given(st.text(max_size=8), st.sampled_from(DEFAULT_IGNORABLE), st.text(max_size=8))
def test_any_name_holding_a_default_ignorable_is_refused(
    before: str, char: str, after: str
) -> None:
    """Wherever it stands (the one exception, VS16/ZWJ inside an emoji, needs a pictograph
    beside it, and a letter is never one)."""
    with pytest.raises(NameRefused):
        judge(f"가{before}가{char}가{after}", DISPLAY_NAME)


@pytest.mark.parametrize("rule", [DISPLAY_NAME, TITLE, HOLDER])
def test_hangul_fillers_never_pass_as_a_blank_name(rule: names.NameRule) -> None:
    for filler in "\u115f\u1160\u3164\uffa0":
        assert _refused(filler, rule).reason == "invisible_character"
        assert _refused(f"홍{filler}길동", rule).reason == "invisible_character"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a\u0000b", "control_character"),
        ("a\nb", "control_character"),
        ("a\u2028b", "control_character"),
        ("a\ue000b", "private_use"),
        ("a\U000f0000b", "private_use"),
        ("a\u0378b", "unassigned"),
        ("a\ud800b", "surrogate"),
        ("a\u0600b", "format_character"),
    ],
)
def test_controls_private_use_unassigned_and_format_characters_are_refused(
    text: str, reason: str
) -> None:
    assert _refused(text).reason == reason


# -- marks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position"),
    [("\u0301abc", 1), ("ab \u0301c", 4), ("\u20dd", 1), ("김 \u0300\u0301", 3), ("\u309b", 1)],
)
def test_a_combining_mark_with_no_base_is_refused(text: str, position: int) -> None:
    refused = _refused(text)
    assert refused.reason == "lone_mark" and refused.position == position


def test_marks_stacked_past_three_are_refused() -> None:
    assert judge("e\u0301\u0302\u0323", DISPLAY_NAME)
    refused = _refused("ze\u0301\u0302\u0323\u0304x")
    assert refused.reason == "stacked_marks" and refused.position == 6


# -- look-alikes of reserved words -------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "admin", "ADMIN", "Admin", "ａｄｍｉｎ", "𝐚𝐝𝐦𝐢𝐧", "a d m i n", "a.d.m.i.n", "admin01",
        "ɑdmin", "Ѕуѕtеm", "r00t", "ROOT", "administrator", "superadministrator",
        "moderator", "official", "Gimhae City", "gimhae-city", "GimhaeCityHall",
        "관리자", "김해시 관리자", "관리자1", "운영자", "운영진 김", "김해시", "김해 시",
        "김해시청",
        "김해시장", "시장", "시장님", "공무원", "홍길동 주무관", "홍길동주무관", "이영희 담당관",
        "박과장", "김 과장", "인사팀장", "ｇｉｍｈａｅｓｉ", "공식계정",
    ],
)  # fmt: skip
def test_a_display_name_that_reads_as_the_city_or_its_staff_is_refused(name: str) -> None:
    assert _refused(name).reason in {"reserved_name", "mixed_script"}


@pytest.mark.parametrize("name", ["аdmin", "pаypal", "Gіmhae", "rооt"])
def test_a_latin_word_with_cyrillic_look_alikes_is_refused(name: str) -> None:
    assert _refused(name).reason == "mixed_script"


@pytest.mark.parametrize(
    "name",
    [
        "김민수", "김해", "김해사랑", "김해 시민", "김해시민", "김해시민 걷기왕", "장유 걷기왕",
        "Kim 민수", "Kim민수", "민수 Kim", "金민수", "이시장통닭", "김동장", "badminton",
        "ecosystem", "rootbeer", "Jürgen", "Ольга", "Ольга Smith", "山田", "やまだ太郎", "ليلى",
        "ἀθήνα", "Nguyễn Văn A", "🌱 green", "❤\ufe0f 걷기", "👩\u200d👩\u200d👧", "e\u0301",
        "O'Brien", "Anne-Marie",
    ],
)  # fmt: skip
def test_korean_and_other_real_names_pass(name: str) -> None:
    assert judge(name, DISPLAY_NAME) == unicodedata.normalize("NFKC", name)


def test_titles_and_holders_may_use_official_words() -> None:
    """A challenge title is the city's own text; a holder is the bank's name of record."""
    assert judge("김해시장배 걷기대회", TITLE) == "김해시장배 걷기대회"
    assert judge("김시장", HOLDER) == "김시장"


# -- width -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "\ufdfd" * 5,
        "\ua9c1\ua9c2" * 6,
        "\U00012219" * 9,
        "\U0001242b" * 9,
        "\U00013000" * 17,
        "가" * 17,
        "🌱" * 17,
        "\u2e3b" * 11,
    ],
)
def test_runs_of_very_wide_glyphs_are_refused(name: str) -> None:
    assert len(name) <= DISPLAY_NAME.max_chars
    assert _refused(name).reason == "too_wide"


def test_width_counts_east_asian_wide_as_two_and_marks_as_none() -> None:
    assert names.columns("김해 Kim") == 8
    assert names.columns("e\u0301") == 1
    assert judge("가" * 16, DISPLAY_NAME) == "가" * 16


# -- what is stored ----------------------------------------------------------------------


@settings(deadline=None)
@given(st.text(max_size=40))
def test_a_stored_name_is_nfkc_and_judging_it_again_changes_nothing(text: str) -> None:
    for rule in (DISPLAY_NAME, TITLE, HOLDER):
        try:
            name = judge(text, rule)
        except NameRefused as e:
            assert e.reason and str(e)
            continue
        assert unicodedata.is_normalized("NFKC", name)
        assert name == name.strip() and "  " not in name
        assert 1 <= len(name) <= rule.max_chars and names.columns(name) <= rule.max_columns
        assert judge(name, rule) == name


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("ｋｉｍ", "kim"), ("ﬁne", "fine"), ("김\u3000해", "김 해"), ("\u1100\u1175\u11b7", "김")],
)
def test_compatibility_forms_are_stored_normalized(sent: str, stored: str) -> None:
    assert judge(sent, DISPLAY_NAME) == stored


def test_a_holder_is_letters_first() -> None:
    assert _refused("=cmd|' /C calc'!A0", HOLDER).reason == "not_a_letter"
    assert judge("HONG GILDONG", HOLDER) == "HONG GILDONG"


# -- the data is Unicode's ---------------------------------------------------------------


def test_the_skeleton_is_unicodes() -> None:
    assert ucd.skeleton("аdmin") == ucd.skeleton("admin")
    assert ucd.skeleton("ℓ") == ucd.skeleton("l")
    assert ucd.script_extensions("а") == {"Cyrillic"}
    assert ucd.script_extensions("\u3001") >= {"Hangul", "Han"}


@pytest.mark.skipif(
    not Path("/usr/share/unicode/DerivedCoreProperties.txt").exists()
    or shutil.which("python3") is None,
    reason="Debian's unicode-data and python3-icu make the data",
)
def test_the_committed_data_is_what_the_generator_makes() -> None:
    probe = subprocess.run(
        ["/usr/bin/python3", "-c", "import icu"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip("python3-icu is not installed")
    done = subprocess.run(
        ["/usr/bin/python3", str(ROOT / "tools" / "generate_unicode_names.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert sys.version_info[:2] == (3, 11)  # unicodedata 14.0, the same as the generator's
