"""Step leaderboards in the city's terms: which boards a step day counts on, how a stream
batch changes them, and exact competition ranks from a count tree (DESIGN §4, §6).

A board is a period (`day#2026-11-25`, `week#2026-W48`) and a scope (`city`,
`district:<code>`). A citizen's entry on a board keeps the day counts it covers
(`{"2026-11-25": 10342}`) and its score is their sum (invariant 4). Applying a step day is
an element-wise MAX into that map: a maximum is commutative, associative and idempotent,
so replayed or reordered stream records leave every entry as one clean delivery would.

Ranks: "my rank" is 1 + how many entries score above mine. A three-level count tree over
the score range answers that by reading three small nodes on my score's path, whatever
the board's size or my rank:
- the top node counts entries per `score // 10_000`;
- a mid node per top bucket counts per `score // 100` (as its offset in the bucket, 0..99);
- a leaf node per mid bucket counts per exact score (as `score % 100`).
Each node holds at most 100 counters (the top node 11 for a day, 71 for a week at the
default ceiling), so it stays well under 1 KB: one write unit per update.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from chalicelib.domain import totals
from chalicelib.domain.clock import SEOUL
from chalicelib.domain.steps import StepDay, week_days, week_of

DAY = "day"
WEEK = "week"
PERIOD_KINDS = (DAY, WEEK)
CITY = "city"
DISTRICT_PREFIX = "district:"

TOP_BUCKET = 10_000
MID_BUCKET = 100

# Old periods leave by TTL, never by a job: a day board is kept five weeks (last month's
# days stay visible), a week board a little over a year (year-on-year comparison).
DAY_RETENTION = timedelta(days=35)
WEEK_RETENTION = timedelta(days=400)
MONTH = "month"
WALKERS = "walkers"
"""The scope of a month's walkers' board (`month#2026-12#walkers`): one entry per citizen
with steps in the month, written once, in no count tree; it only counts the month's active
walkers (the KPIs), which a day's or a week's board cannot give (no month board ranks)."""

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DISTRICT_CODE = re.compile(r"[a-z0-9-]{1,40}")


class InvalidBoard(ValueError):
    """A period, date or scope that names no board; `field` says which part."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


# -- periods, scopes, boards -------------------------------------------------------------


def day_period(day: date) -> str:
    return f"{DAY}#{day.isoformat()}"


def week_period(day: date) -> str:
    return f"{WEEK}#{week_of(day)}"


def period_of(kind: str, day: date) -> str:
    if kind == DAY:
        return day_period(day)
    if kind == WEEK:
        return week_period(day)
    raise InvalidBoard("period", f"period must be one of {', '.join(PERIOD_KINDS)}")


def district_scope(code: str) -> str:
    return f"{DISTRICT_PREFIX}{code}"


def board_id(period: str, scope: str) -> str:
    """`day#2026-11-25#city`, `week#2026-W48#district:naeoe-dong`."""
    return f"{period}#{scope}"


def boards_of(day: StepDay) -> tuple[str, str, str, str]:
    """The four boards a step day counts on: its day and its week, city-wide and in the
    district it was first synced in."""
    district = district_scope(day.district)
    today, week = day_period(day.day), week_period(day.day)
    return (
        board_id(today, CITY),
        board_id(today, district),
        board_id(week, CITY),
        board_id(week, district),
    )


def walkers_board(day: date) -> str:
    """The month's walkers' board a step day with steps marks its citizen on."""
    return board_id(f"{MONTH}#{day.strftime('%Y-%m')}", WALKERS)


def is_walkers_board(board: str) -> bool:
    return board.startswith(f"{MONTH}#") and scope_of_board(board) == WALKERS


def parse_date(raw: str) -> date:
    """A `YYYY-MM-DD` day in ASCII digits (date.fromisoformat alone also takes `20261125`
    and would take other scripts' digits through int())."""
    if not _DATE.fullmatch(raw):
        raise InvalidBoard("date", "date must be YYYY-MM-DD")
    try:
        return date.fromisoformat(raw)
    except ValueError as e:
        raise InvalidBoard("date", "date is not a calendar day") from e


def parse_scope(raw: str) -> tuple[str, str | None]:
    """(`city`, None) or (`district:<code>`, code). Whether the code is one of the city's
    districts is the caller's question (an unknown district is well-formed: a 422)."""
    if raw == CITY:
        return CITY, None
    if raw.startswith(DISTRICT_PREFIX):
        code = raw[len(DISTRICT_PREFIX) :]
        if _DISTRICT_CODE.fullmatch(code):
            return raw, code
    raise InvalidBoard("scope", "scope must be city or district:<code>")


def expires_at(period: str) -> datetime:
    """When a period's boards may go: a fixed time after the period's last Seoul day ends,
    the same on every write (so no write order can shorten or stretch it)."""
    kind, _, label = period.partition("#")
    if kind == DAY:
        last = date.fromisoformat(label)
        retention = DAY_RETENTION
    elif kind == WEEK:
        year, week = label.split("-W")
        last = week_days(date.fromisocalendar(int(year), int(week), 1))[1]
        retention = WEEK_RETENTION
    elif kind == MONTH:
        first = date.fromisoformat(f"{label}-01")
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        retention = WEEK_RETENTION
    else:
        raise InvalidBoard("period", f"unknown period {period!r}")
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=SEOUL)
    return (end + retention).astimezone(UTC)


def period_of_board(board: str) -> str:
    kind, label, _ = board.split("#", 2)
    return f"{kind}#{label}"


def scope_of_board(board: str) -> str:
    return board.split("#", 2)[2]


# -- entries and how a batch changes them ------------------------------------------------


@dataclass(frozen=True)
class EntryKey:
    board: str
    citizen_id: str


@dataclass(frozen=True)
class Entry:
    """One citizen on one board."""

    board: str
    citizen_id: str
    days: Mapping[str, int]
    display_name: str
    name_key: str
    """Which profile version the display name came from (`v|<version, padded>|<name>`;
    `<day>|<steps, padded>|<name>` on days stored before versions, which every versioned
    key outranks): the name of the greatest key wins, so a rename shows whatever the
    delivery order, and a replay of an older name never brings it back."""
    version: int | None = None

    @property
    def key(self) -> EntryKey:
        return EntryKey(self.board, self.citizen_id)

    @property
    def score(self) -> int:
        return sum(self.days.values())


@dataclass
class Contribution:
    """What a batch's records say about one entry: the max per day, and the name's key."""

    days: dict[str, int] = field(default_factory=dict)
    display_name: str = ""
    name_key: str = ""

    def take(self, day: StepDay) -> None:
        label = day.day.isoformat()
        self.days[label] = max(self.days.get(label, 0), day.steps)
        key = name_key_of(day)
        if key > self.name_key:
            self.name_key, self.display_name = key, day.display_name


def name_key_of(day: StepDay) -> str:
    if day.name_version is not None:
        return profile_name_key(day.name_version, day.display_name)
    return f"{day.day.isoformat()}|{day.steps:012d}|{day.display_name}"


def profile_name_key(version: int, display_name: str) -> str:
    """The key of a name read at a profile version (`v` sorts above every legacy key's
    leading digit)."""
    return f"v|{version:012d}|{display_name}"


def current_boards(today: date, districts: Iterable[str]) -> list[str]:
    """The boards a rename must reach at once: today's and this week's, city-wide and in
    each district given (older days keep the name they were shown with)."""
    periods = (day_period(today), week_period(today))
    scopes = [CITY, *dict.fromkeys(district_scope(d) for d in districts)]
    return [board_id(p, s) for p in periods for s in scopes]


def contributions(days: Iterable[StepDay]) -> dict[EntryKey, Contribution]:
    """A batch of step days reduced to one contribution per (board, citizen)."""
    found: dict[EntryKey, Contribution] = {}
    for day in days:
        if day.steps < 0:
            raise ValueError(f"negative steps for {day.citizen_id} on {day.day}")
        for board in boards_of(day):
            found.setdefault(EntryKey(board, day.citizen_id), Contribution()).take(day)
        if day.steps > 0:
            found.setdefault(EntryKey(walkers_board(day.day), day.citizen_id), Contribution())
    return found


def merged(old: Entry | None, key: EntryKey, change: Contribution) -> Entry | None:
    """The entry after applying a contribution (element-wise MAX), or None when nothing
    changes (a replay, or a lower count arriving after a higher one). A month's walkers'
    entry is written once, empty: it says only that the citizen walked that month."""
    if is_walkers_board(key.board):
        return None if old is not None else Entry(key.board, key.citizen_id, {}, "", "")
    days = dict(old.days) if old else {}
    for label, steps in change.days.items():
        days[label] = max(days.get(label, 0), steps)
    name_key, name = (old.name_key, old.display_name) if old else ("", "")
    if change.name_key > name_key:
        name_key, name = change.name_key, change.display_name
    if old is not None and days == dict(old.days) and name_key == old.name_key:
        return None
    if old is None:
        return Entry(key.board, key.citizen_id, days, name, name_key)
    return replace(old, days=days, display_name=name, name_key=name_key)


class StaleEntries(Exception):
    """Entries changed since they were read (another shard wrote them): nothing of their
    transaction was written; re-read them and recompute."""

    def __init__(self, keys: set[EntryKey]) -> None:
        super().__init__(f"{len(keys)} stale board entries")
        self.keys = keys


@dataclass(frozen=True)
class EntryChange:
    old: Entry | None
    new: Entry

    @property
    def old_score(self) -> int | None:
        return None if self.old is None else self.old.score


def changes(
    found: Mapping[EntryKey, Contribution], stored: Mapping[EntryKey, Entry]
) -> list[EntryChange]:
    """What the batch changes, given the entries as stored now."""
    out: list[EntryChange] = []
    for key in sorted(found, key=lambda k: (k.board, k.citizen_id)):
        old = stored.get(key)
        new = merged(old, key, found[key])
        if new is not None:
            out.append(EntryChange(old, new))
    return out


# -- the count tree ----------------------------------------------------------------------


def top_node(board: str) -> str:
    return f"{board}#t"


def mid_node(board: str, top: int) -> str:
    return f"{board}#m{top}"


def leaf_node(board: str, mid: int) -> str:
    return f"{board}#l{mid}"


def district_totals_row(period: str) -> str:
    return f"{period}#districts"


def tree_path(board: str, score: int) -> tuple[tuple[str, int], tuple[str, int], tuple[str, int]]:
    """(node, counter) for the three counters an entry of this score counts in. Inside a mid
    or leaf node the counter is relative (0..99): short attribute names keep a full node
    under 1 KB, one write unit."""
    top, mid = score // TOP_BUCKET, score // MID_BUCKET
    return (
        (top_node(board), top),
        (mid_node(board, top), mid % (TOP_BUCKET // MID_BUCKET)),
        (leaf_node(board, mid), score % MID_BUCKET),
    )


NodeDeltas = dict[str, dict[int, int]]
"""Per node, what to add to each of its counters."""


def _add(deltas: NodeDeltas, node: str, counter: int, value: int) -> None:
    counters = deltas.setdefault(node, {})
    counters[counter] = counters.get(counter, 0) + value
    if counters[counter] == 0:
        del counters[counter]
        if not counters:
            del deltas[node]


def tree_deltas(changed: Iterable[EntryChange]) -> NodeDeltas:
    """One delta per counter for a whole chunk of changes: an entry leaving its old score
    takes one off that path, and counts one on its new score's path."""
    deltas: NodeDeltas = {}
    for change in changed:
        old, new = change.old_score, change.new.score
        if old == new or is_walkers_board(change.new.board):
            continue
        if old is not None:
            for node, counter in tree_path(change.new.board, old):
                _add(deltas, node, counter, -1)
        for node, counter in tree_path(change.new.board, new):
            _add(deltas, node, counter, 1)
    return deltas


def district_deltas(changed: Iterable[EntryChange]) -> dict[str, dict[str, int]]:
    """Per period's district totals row, what each district's total gains: the district
    boards' score changes (a district's total is the sum of its board's scores)."""
    rows: dict[str, dict[str, int]] = {}
    for change in changed:
        scope = scope_of_board(change.new.board)
        if not scope.startswith(DISTRICT_PREFIX):
            continue
        gain = change.new.score - (change.old_score or 0)
        if gain:
            row = rows.setdefault(district_totals_row(period_of_board(change.new.board)), {})
            code = scope[len(DISTRICT_PREFIX) :]
            row[code] = row.get(code, 0) + gain
    return rows


def rank_of(
    score: int, top: Mapping[int, int], mid: Mapping[int, int], leaf: Mapping[int, int]
) -> int:
    """1 + the entries scoring above `score`, from the three nodes on its path: higher top
    buckets, higher mid buckets inside my top bucket, higher scores inside my mid bucket."""
    (_, my_top), (_, my_mid), (_, my_leaf) = tree_path("", score)
    above = sum(n for bucket, n in top.items() if bucket > my_top)
    above += sum(n for bucket, n in mid.items() if bucket > my_mid)
    above += sum(n for offset, n in leaf.items() if offset > my_leaf)
    return 1 + above


def competition_ranks(scores: Iterable[int]) -> list[int]:
    """Ranks for scores in descending order: equal scores share a rank and the next rank
    skips (1, 2, 2, 4)."""
    ranks: list[int] = []
    previous: int | None = None
    for position, score in enumerate(scores, start=1):
        if previous is not None and score > previous:
            raise ValueError("scores must be in descending order")
        ranks.append(ranks[-1] if previous == score else position)
        previous = score
    return ranks


def steps_synced(changed: Iterable[EntryChange]) -> dict[str, int]:
    """Per city stats row (chalicelib.domain.totals), the steps the changes add: a step day
    counts on exactly one city-wide day board, so that board's score change is the day's
    increase. Kept in the boards' own transaction (a third reader of the step stream is
    against DynamoDB's advice), so the stats count each increase exactly when the boards do."""
    days: list[tuple[str, int, int]] = []
    for change in changed:
        board = change.new.board
        if not board.startswith("day#") or scope_of_board(board) != CITY:
            continue
        day = period_of_board(board)[len("day#") :]
        days.append((day, change.old_score or 0, change.new.score))
    return totals.steps_increase(days)


def walkers_counted(changed: Iterable[EntryChange]) -> dict[str, int]:
    """Per month walkers' row of the city stats (chalicelib.domain.totals), the citizens
    the changes mark as walking that month for the first time: a walkers' entry is created
    once, in the transaction that counts it, so a replay or reorder counts nobody twice."""
    rows: dict[str, int] = {}
    for change in changed:
        if change.old is None and is_walkers_board(change.new.board):
            row = totals.walkers_row(period_of_board(change.new.board)[len(MONTH) + 1 :])
            rows[row] = rows.get(row, 0) + 1
    return rows


# -- transactions of bounded size ------------------------------------------------------

TRANSACTION_ITEMS = 100


def chunks(changed: list[EntryChange], limit: int = TRANSACTION_ITEMS) -> list[list[EntryChange]]:
    """Changes grouped so that each group's entries plus the tree nodes and district rows
    they touch (one update per node, however many entries share it) fit one transaction.
    An entry touches at most 7 nodes and rows, so every group holds at least one entry."""
    out: list[list[EntryChange]] = []
    current: list[EntryChange] = []
    nodes: set[str] = set()
    for change in changed:
        touched = (
            set(tree_deltas([change]))
            | set(district_deltas([change]))
            | set(steps_synced([change]))
            | set(walkers_counted([change]))
        )
        if current and len(current) + 1 + len(nodes | touched) > limit:
            out.append(current)
            current, nodes = [], set()
        current.append(change)
        nodes |= touched
    if current:
        out.append(current)
    return out


# -- what the routes answer --------------------------------------------------------------


@dataclass(frozen=True)
class Ranked:
    rank: int
    display_name: str
    steps: int


@dataclass(frozen=True)
class MyStanding:
    rank: int | None
    steps: int


@dataclass(frozen=True)
class DistrictStanding:
    rank: int
    district: str
    name: str
    steps: int


def ranked_top(entries: list[tuple[str, int]]) -> list[Ranked]:
    """(display_name, score) in descending score order, ranked."""
    ranks = competition_ranks(score for _, score in entries)
    return [Ranked(r, name, score) for r, (name, score) in zip(ranks, entries, strict=True)]


def ranked_districts(totals: Mapping[str, int], names: Mapping[str, str]) -> list[DistrictStanding]:
    """Every district of the city, those nobody walked in at zero, best first (ties by code
    so the order is stable)."""
    ordered = sorted(names, key=lambda code: (-max(totals.get(code, 0), 0), code))
    steps = [max(totals.get(code, 0), 0) for code in ordered]
    ranks = competition_ranks(steps)
    return [
        DistrictStanding(rank, code, names[code], s)
        for rank, code, s in zip(ranks, ordered, steps, strict=True)
    ]
