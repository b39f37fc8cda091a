// Alerts (#/alerts): the filtered list, newest-updated first, with new and changed alerts
// merged in without a reload. The filters live in the hash's query, so a view bookmarks.
//
// Polling: every POLL_MS the page asks for alerts updated since the newest `updated_at` it
// has seen (DESIGN §4b; the bound is inclusive and `updated_at` is to the second, so the
// newest ones come back again and merge as no-ops). The poll asks `status=all` with only the
// filters an alert never changes (kind, district): an alert that was cleared, acknowledged
// or escalated since comes back too, and its row is updated in place. Hidden tab: it polls
// every HIDDEN_POLL_MS; back in view: at once. Leaving the page stops it.
import { get } from "../api.js";
import { field, h, table } from "../dom.js";
import { ago, num, t, when } from "../i18n.js";
import { pager } from "../widgets.js";
import { alertPath, deviceLink, statusBadge, who } from "../alerts/kit.js";
import { districtName, districts, kindName, KINDS, SEVERITIES, severityBadge, severityName } from "../fleet.js";

const PAGE = 50;
const POLL_MS = 5000;
const HIDDEN_POLL_MS = 60000;
const MAX_BACKOFF_MS = 60000;
/** Ask a little before the newest stamp seen: a write committed just after a later one was
 * read still comes back (merging is idempotent). */
const OVERLAP_MS = 5000;

const FILTERS = {
  status: ["active", "cleared", "all"],
  acknowledged: ["", "true", "false"],
  kind: ["", ...KINDS],
  severity: ["", ...SEVERITIES],
};

/** The filters from the hash's query, each checked against what the API takes. */
function readFilters(query) {
  const chosen = {};
  for (const [name, allowed] of Object.entries(FILTERS)) {
    const value = query.get(name) || "";
    chosen[name] = allowed.includes(value) ? value : allowed[0];
  }
  chosen.district = /^[a-z0-9-]{1,40}$/.test(query.get("district") || "") ? query.get("district") : "";
  return chosen;
}

/** Does an alert (as it is now) belong in the filtered view? */
function matches(alert, filters) {
  if (filters.status !== "all" && alert.status !== filters.status) return false;
  if (filters.acknowledged && String(alert.acknowledged) !== filters.acknowledged) return false;
  if (filters.kind && alert.kind !== filters.kind) return false;
  if (filters.severity && alert.severity !== filters.severity) return false;
  if (filters.district && alert.district !== filters.district) return false;
  return true;
}

function select(name, label, options, value) {
  const control = h(
    "select",
    { name },
    options.map(([optionValue, text]) => h("option", { value: optionValue, selected: optionValue === value }, text)),
  );
  return field(label, control);
}

function filterForm(filters, known) {
  const any = [["", t("alerts.any")]];
  const form = h(
    "form",
    { class: "filters row", "aria-label": t("alerts.filters") },
    select("status", t("alerts.status"), FILTERS.status.map((s) => [s, t(`alerts.status.${s}`)]), filters.status),
    select(
      "acknowledged",
      t("alerts.acknowledged"),
      FILTERS.acknowledged.map((a) => [a, t(`alerts.acknowledged.${a || "any"}`)]),
      filters.acknowledged,
    ),
    select("kind", t("alerts.kind"), [...any, ...KINDS.map((k) => [k, kindName(k)])], filters.kind),
    select("severity", t("alerts.severity"), [...any, ...SEVERITIES.map((s) => [s, severityName(s)])], filters.severity),
    select("district", t("alerts.district"), [...any, ...known], filters.district),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, t("alerts.apply")),
      h("a", { class: "button", href: "#/alerts" }, t("alerts.reset")),
    ),
  );
  // Applied with the button, not on each change: a keyboard moving through a list of
  // options must not reload the page under it.
  const apply = (event) => {
    event?.preventDefault();
    const query = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (value && !(name === "status" && value === "active")) query.set(name, String(value));
    }
    const text = query.toString();
    location.hash = text ? `#/alerts?${text}` : "#/alerts";
  };
  form.addEventListener("submit", apply);
  return form;
}

function columns(known) {
  return [
    { label: t("alerts.col.severity"), cell: (a) => severityBadge(a.severity) },
    { label: t("alerts.col.kind"), cell: (a) => h("a", { href: alertPath(a.alert_id) }, kindName(a.kind)) },
    { label: t("alerts.col.status"), cell: (a) => statusBadge(a.status) },
    { label: t("alerts.col.device"), cell: (a) => deviceLink(a) },
    { label: t("alerts.col.district"), cell: (a) => districtName(a.district, known) },
    { label: t("alerts.col.raised"), cell: (a) => h("time", { datetime: a.raised_at, title: ago(a.raised_at) }, when(a.raised_at)) },
    { label: t("alerts.col.updated"), cell: (a) => h("time", { datetime: a.updated_at }, when(a.updated_at, { seconds: true })) },
    {
      label: t("alerts.col.acknowledgedBy"),
      cell: (a) => (a.acknowledged ? a.acknowledged_by || who(null) : h("span", { class: "muted" }, t("alerts.notAcknowledged"))),
    },
    { label: t("alerts.col.assignee"), cell: (a) => a.assignee || h("span", { class: "muted" }, t("alerts.nobody")) },
  ];
}

function newest(a, b) {
  if (!a) return b;
  if (!b) return a;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

export default async function render(view, ctx) {
  const filters = readFilters(ctx.query);
  const known = await districts().catch(() => new Map());
  const cols = columns(known);
  const query = {
    status: filters.status,
    acknowledged: filters.acknowledged,
    kind: filters.kind,
    severity: filters.severity,
    district: filters.district,
  };
  // The list as the filters ask for it, and the city's newest change (the poll's start).
  const [first, latest] = await Promise.all([
    get("/v1/admin/alerts", { ...query, limit: PAGE }, { signal: ctx.signal }),
    get("/v1/admin/alerts", { status: "all", kind: filters.kind, district: filters.district, limit: 1 }, { signal: ctx.signal }),
  ]);

  const rows = new Map(); // alert_id -> {alert, tr}
  let watermark = latest.alerts[0]?.updated_at || null;

  const grid = table(t("alerts.caption"), cols, []);
  grid.classList.add("alerts-table");
  const tbody = grid.querySelector("tbody");
  const emptyRow = tbody.firstElementChild;
  emptyRow.firstElementChild.textContent = t("alerts.empty");
  const announcer = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite", "aria-atomic": "true" });
  const live = h("p", { class: "live-status muted" });
  const count = h("p", { class: "muted count" });
  const more = pager(async (cursor) => {
    const page = await get("/v1/admin/alerts", { ...query, limit: PAGE, cursor }, { signal: ctx.signal });
    add(page.alerts, "end");
    return page.next_cursor;
  }, first.next_cursor);

  function rowFor(alert, fresh) {
    const tr = h(
      "tr",
      { class: ["alert-row", fresh && "fresh", alert.status === "cleared" && "cleared"], dataset: { alertId: alert.alert_id } },
      cols.map((c, i) => {
        const cell = h("td", {}, c.cell(alert));
        // Arrived while the page was open: new, or (on a list of cleared ones) just cleared.
        if (i === 1 && fresh) {
          cell.append(" ", h("span", { class: "badge badge-new" }, t(alert.status === "active" ? "alerts.new" : "alerts.justCleared")));
        }
        return cell;
      }),
    );
    return tr;
  }

  function showCount() {
    emptyRow.hidden = rows.size > 0;
    count.textContent = t("alerts.shown", { n: num(rows.size) });
  }

  function add(alerts, where) {
    for (const alert of alerts) {
      if (rows.has(alert.alert_id)) continue;
      const tr = rowFor(alert, false);
      rows.set(alert.alert_id, { alert, tr });
      tbody.append(tr);
      watermark = newest(watermark, alert.updated_at);
    }
    if (where === "end") showCount();
  }

  /** Merge a poll's answer: changed rows in place, new matching ones on top, the active
   * ones announced. */
  function merge(alerts) {
    const arrived = [];
    for (const alert of [...alerts].reverse()) {
      watermark = newest(watermark, alert.updated_at);
      const existing = rows.get(alert.alert_id);
      if (existing) {
        if (JSON.stringify(existing.alert) === JSON.stringify(alert)) continue;
        const tr = rowFor(alert, existing.tr.classList.contains("fresh"));
        existing.tr.replaceWith(tr);
        rows.set(alert.alert_id, { alert, tr });
      } else if (matches(alert, filters)) {
        const tr = rowFor(alert, true);
        tbody.prepend(tr);
        rows.set(alert.alert_id, { alert, tr });
        if (alert.status === "active") arrived.push(alert);
      }
    }
    if (arrived.length === 1) {
      const [a] = arrived;
      announcer.textContent = t("alerts.announce.one", {
        kind: kindName(a.kind),
        device: a.device_id,
        district: districtName(a.district, known),
        severity: severityName(a.severity),
      });
    } else if (arrived.length > 1) {
      announcer.textContent = t("alerts.announce.many", { n: arrived.length });
    }
    showCount();
  }

  view.append(
    h("h1", {}, t("alerts.title")),
    filterForm(filters, known),
    live,
    announcer,
    grid,
    h("div", { class: "list-foot" }, count, more.button, more.status),
  );
  add(first.alerts, "end");

  // -- polling
  let timer = null;
  let stopped = false;
  let failures = 0;

  async function poll() {
    timer = null;
    if (stopped) return;
    let delay = document.hidden ? HIDDEN_POLL_MS : POLL_MS;
    try {
      const since = watermark ? new Date(Date.parse(watermark) - OVERLAP_MS).toISOString() : undefined;
      const changed = [];
      let next;
      do {
        const page = await get(
          "/v1/admin/alerts",
          { status: "all", kind: filters.kind, district: filters.district, updated_since: since, limit: 200, cursor: next },
          { signal: ctx.signal },
        );
        changed.push(...page.alerts);
        next = page.next_cursor;
      } while (next && since && changed.length < 1000);
      if (stopped) return;
      failures = 0;
      merge(changed);
      const time = when(new Date().toISOString(), { seconds: true }).slice(11);
      live.classList.remove("failed");
      live.textContent = t(document.hidden ? "alerts.live.paused" : "alerts.live", { time });
    } catch (error) {
      if (stopped || error?.name === "AbortError") return;
      failures += 1;
      delay = Math.min(MAX_BACKOFF_MS, POLL_MS * 2 ** failures);
      live.classList.add("failed");
      live.textContent = t("alerts.live.failed", { message: error.message, seconds: Math.round(delay / 1000) });
    }
    if (!stopped) timer = setTimeout(poll, delay);
  }

  function onVisibility() {
    if (!document.hidden && timer !== null) {
      clearTimeout(timer);
      poll();
    }
  }

  document.addEventListener("visibilitychange", onVisibility);
  ctx.onLeave(() => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisibility);
  });
  live.textContent = t("alerts.live", { time: when(new Date().toISOString(), { seconds: true }).slice(11) });
  timer = setTimeout(poll, POLL_MS);
}
