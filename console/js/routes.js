// Every page of the console: its address, the module that draws it, the staff power it
// needs (domain/roles.py's Power; any one of a list will do), its menu entry, or the menu
// entry it belongs `under`.
export const ROUTES = [
  { path: "/city", page: "city", powers: ["devices", "stats"], nav: "nav.city" },
  { path: "/alerts", page: "alerts", powers: ["alerts"], nav: "nav.alerts" },
  { path: "/alerts/:id", page: "alert", powers: ["alerts"], under: "/alerts" },
  { path: "/shelters/:id", page: "shelter", powers: ["devices"], under: "/city" },
  { path: "/robots/:id", page: "robot", powers: ["devices"], under: "/city" },
  { path: "/quarantine", page: "quarantine", powers: ["quarantine_read"], nav: "nav.quarantine" },
  { path: "/dead-letters", page: "dead-letters", powers: ["dead_letters"], nav: "nav.deadLetters" },
  { path: "/payouts", page: "payouts", powers: ["payouts"], nav: "nav.payouts" },
  { path: "/payouts/:id", page: "payout-run", powers: ["payouts"], under: "/payouts" },
  { path: "/corrections", page: "corrections", powers: ["corrections_read"], nav: "nav.corrections" },
  { path: "/citizens", page: "citizens", powers: ["citizens"], nav: "nav.citizens" },
  { path: "/citizens/:id", page: "citizen", powers: ["citizens"], under: "/citizens" },
  { path: "/audit", page: "audit", powers: ["audit"], nav: "nav.audit" },
  { path: "/reports", page: "reports", powers: ["reports"], nav: "nav.reports" },
  // public reads (DESIGN §4d): every staff role sees the registry (one power each role holds)
  { path: "/projects", page: "projects", powers: ["devices", "stats", "citizens"], nav: "nav.projects" },
  { path: "/actions", page: "actions", powers: ["actions"], nav: "nav.actions" },
];

/** The route and its parameters for a hash like "#/alerts/a-1?x=1", or null. */
export function match(hash) {
  const [path, search = ""] = (hash.replace(/^#/, "") || "/").split("?");
  for (const route of ROUTES) {
    const names = [];
    const pattern = new RegExp(
      "^" + route.path.replace(/:(\w+)/g, (_, name) => (names.push(name), "([^/]+)")) + "/?$",
    );
    const found = pattern.exec(path);
    if (found) {
      const params = Object.fromEntries(names.map((name, i) => [name, decoded(found[i + 1])]));
      // A malformed escape or a dot segment (fetch would resolve `/v1/x/..` to `/v1/`) is
      // no id of anything: not found, rather than a thrown error or a call to another path.
      if (Object.values(params).some((value) => value === null || value === "." || value === "..")) break;
      return { route, params, query: new URLSearchParams(search), path };
    }
  }
  return { route: null, params: {}, query: new URLSearchParams(search), path };
}

function decoded(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}
