"""The console's budget and hygiene, by size and by reading the files (no browser).

Issue 24: the JavaScript shipped is under 400 KB; the page builds itself with text nodes
(no markup from strings, no eval); the HTML carries no inline script or style (the CSP
forbids both); nothing in `console/` points at another origin, bar what the vendored
libraries say in their comments and the two strings in their code listed below.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "console"
VENDOR = CONSOLE / "vendor"
BUDGET_BYTES = 400 * 1000

# URLs in vendored code (not comments) that the console never fetches: the SVG namespace
# (an identifier), and Leaflet's attribution prefix (a link shown only when a tile server
# is configured and the attribution control is on).
VENDOR_CODE_URLS = {
    ("leaflet-1.9.4/leaflet.js", "http://www.w3.org/2000/svg"),
    ("leaflet-1.9.4/leaflet.js", "https://leafletjs.com"),
}

_URL = re.compile(r"""https?://[^\s"'`<>)\\]+""")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def _scripts() -> list[Path]:
    return sorted(CONSOLE.rglob("*.js"))


def test_the_javascript_shipped_is_under_400_kb() -> None:
    total = sum(path.stat().st_size for path in _scripts())
    assert len(_scripts()) > 10  # the console's own modules and the vendored ones
    assert total < BUDGET_BYTES, f"console/**/*.js is {total:,} bytes"


def test_words_are_not_shipped_as_javascript() -> None:
    # each language's words are one JSON file, fetched for the language in use
    assert sorted(p.name for p in (CONSOLE / "i18n").iterdir()) == ["en.json", "ko.json"]


def test_the_console_builds_no_markup_from_strings_and_evaluates_no_code() -> None:
    forbidden = re.compile(
        r"\.innerHTML\b|\.outerHTML\b|\.insertAdjacentHTML\b|\bdocument\.write(?:ln)?\b|(?<![\w.$])eval\s*\(|\bnew\s+Function\b"
    )
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((CONSOLE / "js").rglob("*.js"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if forbidden.search(line)
    ]
    assert found == []


def test_the_page_has_no_inline_script_style_or_handlers() -> None:
    html = (CONSOLE / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S | re.I)
    assert scripts, "the page loads its module"
    assert [attrs for attrs, body in scripts if "src=" not in attrs or body.strip()] == []
    assert re.findall(r"\sstyle\s*=", html, re.I) == []
    assert re.findall(r"<style\b", html, re.I) == []
    assert re.findall(r"\son[a-z]+\s*=", html, re.I) == []


def test_nothing_points_at_another_origin() -> None:
    ours: list[str] = []
    vendored: set[tuple[str, str]] = set()
    for path in sorted(p for p in CONSOLE.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.is_relative_to(VENDOR):
            if path.suffix not in {".js", ".css"}:
                continue  # licences and the vendoring notes
            code = _BLOCK_COMMENT.sub("", text)
            code = re.sub(r"^\s*//.*$", "", code, flags=re.M)
            vendored.update(
                (str(path.relative_to(VENDOR)), url.rstrip(".,;")) for url in _URL.findall(code)
            )
        else:
            ours += [f"{path.relative_to(ROOT)}: {url}" for url in _URL.findall(text)]
    assert ours == []
    assert vendored <= VENDOR_CODE_URLS, sorted(vendored - VENDOR_CODE_URLS)
