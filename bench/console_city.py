"""The console's city page with a whole city (issue 24, "Fast with a whole city"):
`python -m bench --console` (`./dev bench --console`).

On a local stack (its own, or a running one's `--stack-dir`) seeded by bench/city_seed.py
with 1,000 devices and 200 open alerts, Debian's Chromium (headless, driven by Playwright)
opens `/console/#/city`:

- time to interactive: a fresh browser context each run (cold HTTP cache, no service
  worker, nothing stored), an operator's token put in sessionStorage before the page runs,
  then the time from navigation start to the page's
  `performance.mark("city:interactive")` (its markers, open alerts and today's figures on
  screen and clickable); min/median/max over the runs. The token is the stack's dev
  login's (`POST /console/dev-login`), put where the login page puts it;
- panning: the Leaflet map dragged by the mouse for a few seconds, at the whole city's
  zoom and again three steps closer (drags in turn in six
  directions, each of 20 mouse moves sent one after another as the page handles them,
  about half a second a drag, so Leaflet pans and markercluster re-clusters at each drag's
  end); the interval between successive requestAnimationFrame callbacks
  meanwhile: p50/p95/max and how many exceed 50 ms;
- JavaScript shipped: every `.js` the city page loaded (Resource Timing: bytes on the wire
  and decoded), and every `.js` under `console/` on disk (raw and gzip -9).

Nothing may leave 127.0.0.1: Chromium resolves no other host, and a request for one fails
the bench.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import statistics
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONSOLE_DIR = ROOT / "console"
# Debian's Chromium (Playwright's own build cannot be downloaded here). The browser tests'
# kit (tests/browser/kit.py) finds it the same way; importing it would import
# tests/conftest.py, which sets this process up for in-process moto.
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
TOKEN_KEY = "gimhae.console.token"
MARK = "city:interactive"
CITY_ROUTE = "#/city"
BUDGET_MS = 1500  # issue 24: interactive within 1.5 s
BUDGET_JS_BYTES = 400 * 1024  # and under 400 KB of JavaScript
LONG_FRAME_MS = 50
VIEWPORT_WIDTH, VIEWPORT_HEIGHT = 1280, 800
OPERATOR = "bench-operator"
# A seeded device goes silent after DEVICE_SILENT_SECONDS (5 minutes): the bench's own stack
# waits a day, so a slow run measures the city as seeded, not 1,000 offline alerts.
QUIET_FLEET = {"DEVICE_SILENT_SECONDS": "86400"}
# Six drag directions, in turn: right, down, left, up and both diagonals back.
DIRECTIONS = ((1, 0), (0, 1), (-1, 0), (0, -1), (1, 1), (-1, -1))
DRAG_MOVES = 20
ZOOM_STEPS = 3  # from the whole city to a few districts, single markers among clusters


class ConsoleMissing(RuntimeError):
    """The stack serves no console (or no city page to measure)."""


# ------------------------------------------------------------------- figures (pure)


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "runs": len(values),
        "min": round(min(values), 1),
        "median": round(statistics.median(values), 1),
        "max": round(max(values), 1),
    }


def frame_stats(stamps: list[float], long_ms: float = LONG_FRAME_MS) -> dict[str, Any]:
    """requestAnimationFrame timestamps (ms) -> the intervals between frames."""
    intervals = [b - a for a, b in pairwise(stamps)]
    if not intervals:
        return {"frames": len(stamps), "intervals": 0}
    return {
        "frames": len(stamps),
        "seconds": round((stamps[-1] - stamps[0]) / 1000, 2),
        "interval_ms_p50": round(percentile(intervals, 0.5), 1),
        "interval_ms_p95": round(percentile(intervals, 0.95), 1),
        "interval_ms_max": round(max(intervals), 1),
        f"frames_over_{long_ms:g}ms": sum(1 for i in intervals if i > long_ms),
    }


def is_script(url: str) -> bool:
    path = url.split("#", 1)[0].split("?", 1)[0]
    return path.endswith((".js", ".mjs"))


def scripts_loaded(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """The page's scripts from its Resource Timing entries (name, transferSize,
    encodedBodySize, decodedBodySize): how many, bytes on the wire and decoded."""
    scripts = [r for r in resources if is_script(r["name"])]
    return {
        "files": len(scripts),
        "transfer_bytes": sum(int(r["transferSize"]) for r in scripts),
        "encoded_bytes": sum(int(r["encodedBodySize"]) for r in scripts),
        "decoded_bytes": sum(int(r["decodedBodySize"]) for r in scripts),
        "largest": sorted(
            ((int(r["decodedBodySize"]), _short(r["name"])) for r in scripts), reverse=True
        )[:5],
    }


def api_calls(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """When the page's last API answer arrived, and each call's start and end (ms from
    navigation start), by path: where the wait for the interactive mark goes."""
    api = [r for r in resources if "/v1/" in r["name"]]
    return {
        "last_api_response_ms": _round(max((r["responseEnd"] for r in api), default=None)),
        "api_ms": {
            _short(r["name"]): [round(r["startTime"]), round(r["responseEnd"])] for r in api
        },
    }


def _short(url: str) -> str:
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1]


def scripts_on_disk(root: Path = CONSOLE_DIR) -> dict[str, Any]:
    """Every `.js` under the console's folder (vendored libraries included)."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and is_script(p.name))
    raw = [p.read_bytes() for p in files]
    return {
        "files": len(files),
        "bytes": sum(len(b) for b in raw),
        "gzip_bytes": sum(len(gzip.compress(b, 9)) for b in raw),
    }


def verdict(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's two numbers against its budgets (the median run; the JavaScript the
    city page loaded, decoded)."""
    median = result["interactive_ms"]["median"]
    shipped = result["scripts_loaded"]["decoded_bytes"]
    return {
        "interactive_median_ms": median,
        "interactive_within_1500ms": median <= BUDGET_MS,
        "js_loaded_kib": round(shipped / 1024, 1),
        "js_under_400kib": shipped < BUDGET_JS_BYTES,
    }


# ------------------------------------------------------------------- the browser

# Before the page's own scripts, in every document of the context: the operator's token
# where the login keeps it, a Resource Timing buffer large enough for every module.
_INIT_SCRIPT = """
sessionStorage.setItem(%s, %s);
performance.setResourceTimingBufferSize(2000);
"""

_READ_TIMINGS = """
(mark) => {
  const m = performance.getEntriesByName(mark)[0];
  const nav = performance.getEntriesByType('navigation')[0];
  return {
    interactive: m.startTime,
    dom_content_loaded: nav ? nav.domContentLoadedEventEnd : null,
    load: nav ? nav.loadEventEnd : null,
    resources: performance.getEntriesByType('resource').map(e => ({
      name: e.name, startTime: e.startTime, responseEnd: e.responseEnd,
      transferSize: e.transferSize, encodedBodySize: e.encodedBodySize,
      decodedBodySize: e.decodedBodySize,
    })),
  };
}
"""

_START_FRAMES = """
() => {
  window.__benchFrames = [];
  window.__benchLong = [];
  window.__benchStop = false;
  const tick = (t) => {
    window.__benchFrames.push(t);
    if (!window.__benchStop) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__benchLong.push(e.duration);
    }).observe({type: 'longtask'});
  } catch (e) { /* no Long Tasks API: none counted */ }
}
"""

# Where Leaflet has panned its map to (the map pane's transform).
_MAP_PANE = """
() => {
  const pane = document.querySelector('.leaflet-map-pane');
  return pane ? getComputedStyle(pane).transform : null;
}
"""

_STOP_FRAMES = """
() => { window.__benchStop = true; return [window.__benchFrames, window.__benchLong]; }
"""


def check_console(console_url: str) -> None:
    try:
        with urllib.request.urlopen(console_url, timeout=10) as response:
            kind = response.headers.get("content-type", "")
            if "html" not in kind:
                raise ConsoleMissing(f"{console_url} answers {kind!r}, not the console's page")
    except urllib.error.HTTPError as e:
        raise ConsoleMissing(
            f"{console_url} answers {e.code}: this stack serves no console (console/ and its "
            "route on the local stack are issue 24's; merge them, restart the stack)"
        ) from e


def dev_login(api_url: str, sub: str, roles: list[str]) -> str:
    """An operator's token from the stack's dev login, as the console's login page gets it."""
    request = urllib.request.Request(
        f"{api_url.rstrip('/')}/console/dev-login",
        data=json.dumps({"sub": sub, "roles": roles}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.loads(response.read())["token"])
    except urllib.error.HTTPError as e:
        raise ConsoleMissing(f"{request.full_url} answers {e.code}: no dev login here") from e


def measure(
    api_url: str,
    token: str,
    *,
    runs: int = 7,
    pan_s: float = 6.0,
    console_url: str | None = None,
    console_dir: Path = CONSOLE_DIR,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Time to interactive over `runs` cold loads, panning on the last, scripts loaded;
    `console_dir`: the files the stack serves (this checkout's console/)."""
    from playwright.sync_api import sync_playwright

    from infra.local.stack import display_path

    console_url = console_url or f"{api_url.rstrip('/')}/console/"
    check_console(console_url)
    page_url = console_url + CITY_ROUTE
    times: list[float] = []
    after_api: list[float] = []  # the page's own work once the last answer is in
    per_run: list[dict[str, Any]] = []
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # No host but 127.0.0.1 resolves: nothing can leave the machine.
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"],
        )
        try:
            for n in range(runs):
                context = browser.new_context(
                    viewport={"width": VIEWPORT_WIDTH, "height": VIEWPORT_HEIGHT}, locale="ko-KR"
                )
                context.add_init_script(_INIT_SCRIPT % (json.dumps(TOKEN_KEY), json.dumps(token)))
                page = context.new_page()
                page.on("request", lambda r: None if _local(r.url) else outside.append(r.url))
                page.goto(page_url, wait_until="commit")
                try:
                    page.wait_for_function(
                        "(m) => performance.getEntriesByName(m).length > 0",
                        arg=MARK,
                        timeout=30_000,
                    )
                except Exception as e:
                    raise ConsoleMissing(
                        f"{page_url}: no performance.mark({MARK!r}) within 30 s ({e})"
                    ) from e
                read = page.evaluate(_READ_TIMINGS, MARK)
                times.append(read["interactive"])
                calls = api_calls(read["resources"])
                if calls["last_api_response_ms"] is not None:
                    after_api.append(read["interactive"] - calls["last_api_response_ms"])
                per_run.append(
                    {
                        "interactive_ms": round(read["interactive"], 1),
                        "dom_content_loaded_ms": _round(read["dom_content_loaded"]),
                        **calls,
                        "requests": len(read["resources"]),
                    }
                )
                log(f"console: run {n + 1}/{runs}: interactive at {read['interactive']:.0f} ms")
                last = n == runs - 1
                if last:
                    scripts = scripts_loaded(read["resources"])
                    panning = {"whole_city": pan(page, pan_s)}
                    zoom_in(page, ZOOM_STEPS)
                    panning[f"zoomed_in_{ZOOM_STEPS}_steps"] = pan(page, pan_s)
                    shot = ROOT / "test-artifacts" / "console" / "bench-city.png"
                    shot.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(shot), full_page=True)
                context.close()
        finally:
            browser.close()
    if outside:
        raise RuntimeError(f"the city page asked for hosts other than 127.0.0.1: {outside[:5]}")
    return {
        "interactive_ms": summary(times),
        "interactive_after_last_api_answer_ms": summary(after_api) if after_api else None,
        "runs": per_run,
        "panning": panning,
        "scripts_loaded": scripts,
        "scripts_on_disk": {"dir": display_path(console_dir), **scripts_on_disk(console_dir)},
    }


def _local(url: str) -> bool:
    if url.startswith(("data:", "blob:", "about:")):
        return True
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    return host in ("127.0.0.1", "localhost", "[::1]")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def zoom_in(page: Any, steps: int) -> None:
    """Closer, with the map's own + button, until single markers show among the clusters."""
    button = page.locator(".leaflet-control-zoom-in").first
    for _ in range(steps):
        button.click()
        page.wait_for_timeout(400)  # Leaflet's zoom animation, then re-clustering


def pan(page: Any, seconds: float) -> dict[str, Any]:
    """Drag the Leaflet map for `seconds`; the frames meanwhile."""
    mapped = page.locator(".leaflet-container").first
    try:
        mapped.wait_for(state="visible", timeout=5_000)
    except Exception as e:
        raise ConsoleMissing("the city page shows no Leaflet map (.leaflet-container)") from e
    mapped.scroll_into_view_if_needed()
    box = mapped.bounding_box()
    # the part of the map on screen (it may run below the fold)
    top, bottom = max(box["y"], 0), min(box["y"] + box["height"], VIEWPORT_HEIGHT)
    cx, cy = box["x"] + box["width"] / 2, (top + bottom) / 2
    reach = min(box["width"], bottom - top) * 0.5
    page.evaluate(_START_FRAMES)
    drags = moved = 0
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        dx, dy = DIRECTIONS[drags % len(DIRECTIONS)]
        x0, y0 = cx - dx * reach / 2, cy - dy * reach / 2
        before = page.evaluate(_MAP_PANE)
        page.mouse.move(x0, y0)
        page.mouse.down()
        # one input event per step, each after the last was handled (a fast hand's drag)
        page.mouse.move(x0 + dx * reach, y0 + dy * reach, steps=DRAG_MOVES)
        page.mouse.up()
        drags += 1
        moved += page.evaluate(_MAP_PANE) != before
    page.wait_for_timeout(300)  # the last drag's re-clustering
    stamps, long_tasks = page.evaluate(_STOP_FRAMES)
    if not moved:
        raise ConsoleMissing("mouse drags on the city page's map did not move it")
    return {
        "drags": drags,
        "drags_that_moved_the_map": moved,
        **frame_stats(stamps),
        "long_tasks": len(long_tasks),
        "long_task_ms_max": round(max(long_tasks), 1) if long_tasks else 0,
    }


# ------------------------------------------------------------------- the whole run


def run(
    stack_dir: Path | None = None,
    *,
    api_url: str | None = None,
    runs: int = 7,
    pan_s: float = 6.0,
    seed: bool = True,
    console_url: str | None = None,
    console_dir: Path = CONSOLE_DIR,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Seed (unless `seed=False`) and measure: on the running stack of `stack_dir`, or a
    fresh one of the bench's own; `api_url` alone measures a stack seeded already (no
    stack.json: nothing to seed with). `console_dir`: the console the stack serves, for
    its files' sizes (this checkout's)."""

    def go(api: str, seed_into: dict[str, Any] | None, which: str) -> dict[str, Any]:
        return _run(
            api, seed_into, which, runs=runs, pan_s=pan_s, console_url=console_url,
            console_dir=console_dir, log=log,
        )  # fmt: skip

    if api_url is not None:
        if seed:
            raise ValueError("seeding needs the stack's folder (--stack-dir), not its URL")
        return go(api_url, None, api_url)
    if stack_dir is None:
        from bench.local_stack import running_stack

        with running_stack(QUIET_FLEET) as (state, _):
            stack = _stack(state)
            return go(stack["api_url"], stack if seed else None, "the bench's own")
    stack = _stack(Path(stack_dir))
    return go(stack["api_url"], stack if seed else None, str(stack_dir))


def _stack(state: Path) -> dict[str, Any]:
    return dict(json.loads((state / "stack.json").read_text(encoding="utf-8")))


def _run(
    api: str,
    seed_into: dict[str, Any] | None,
    which: str,
    *,
    runs: int,
    pan_s: float,
    console_url: str | None,
    console_dir: Path,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Seed the city into `seed_into` (a stack.json) when given, then measure."""
    from bench import city_seed

    check_console(console_url or f"{api}/console/")  # before a minute of seeding
    token = dev_login(api, OPERATOR, ["operator"])
    out: dict[str, Any] = {"stack": which}
    if seed_into is not None:
        out["seeding"] = city_seed.seed(seed_into, token=token, log=log).as_dict()
    out["city"] = city_seed.listed_city(api, token)
    # The machine is shared: how busy it was going in says how much to trust the figures.
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    out.update(
        measure(
            api,
            token,
            runs=runs,
            pan_s=pan_s,
            console_url=console_url,
            console_dir=console_dir,
            log=log,
        )
    )
    out["open_alerts_after"] = city_seed.count_open_alerts(api, token)
    out["verdict"] = verdict(out)
    return out


def main() -> None:
    print(json.dumps(run(), indent=2, ensure_ascii=False), file=sys.stdout)


if __name__ == "__main__":
    main()
