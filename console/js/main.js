// The console's shell: configuration, login, the header and menu, and the router that
// draws one page at a time into <main>. Pages are modules under pages/, loaded when first
// visited, each `export default async function render(view, ctx)`.
import { can, completeHostedLogin, configure, forget, holders, logout, person, token as hasToken } from "./auth.js";
import { clear, h, notice, toast } from "./dom.js";
import { lang, loadWords, setLang, t } from "./i18n.js";
import { match, ROUTES } from "./routes.js";

const main = document.getElementById("main");
let leaving = [];
let current = null;

function allowed(route, who) {
  return route.powers.some((power) => can(power, who));
}

function home(who) {
  const first = ROUTES.find((route) => route.nav && allowed(route, who));
  return first ? `#${first.path}` : "#/login";
}

function drawFrame(who) {
  document.title = t("app.title");
  document.getElementById("skip").textContent = t("app.skip");
  const top = clear(document.getElementById("top"));
  const language = h(
    "button",
    { type: "button", class: "quiet", lang: lang() === "ko" ? "en" : "ko", title: t("app.language.label"),
      onclick: () => switchLanguage() },
    t("app.language"),
  );
  top.append(
    h("a", { class: "brand", href: who ? home(who) : "#/login" }, t("app.title")),
    h("div", { class: "who" },
      who ? [
        h("span", { class: "person" }, who.name),
        h("span", { class: "roles", "aria-label": t("app.roles") }, who.roles.map((r) => t(`role.${r}`)).join(" · ")),
      ] : null,
      language,
      who ? h("button", { type: "button", class: "quiet", onclick: logout }, t("app.logout")) : null,
    ),
  );
  const nav = clear(document.getElementById("nav"));
  nav.setAttribute("aria-label", t("app.nav"));
  nav.hidden = !who;
  if (!who) return;
  const active = match(location.hash).route;
  nav.append(
    h("ul", {},
      ROUTES.filter((r) => r.nav && allowed(r, who)).map((r) =>
        h("li", {}, h("a", {
          href: `#${r.path}`,
          "aria-current": active && (active === r || active.under === r.path) ? "page" : null,
        }, t(r.nav))),
      ),
    ),
  );
}

/** The other language: its words first, then the page again in it. */
async function switchLanguage() {
  const next = lang() === "ko" ? "en" : "ko";
  try {
    await loadWords(next);
  } catch (error) {
    toast(t("app.error", { message: error.message }), "error");
    return;
  }
  setLang(next);
  await route();
}

// Whether the last session ended by itself (an expired or refused token): the login page
// says so until the next sign-in, a reload of the tab included.
const ENDED = "gimhae.console.ended";
const sessionEnded = {
  mark: () => sessionStorage.setItem(ENDED, "1"),
  clear: () => sessionStorage.removeItem(ENDED),
  get: () => sessionStorage.getItem(ENDED) === "1",
};

async function route() {
  leaving.forEach((fn) => { try { fn(); } catch { /* a page's cleanup must not stop the next */ } });
  leaving = [];
  const controller = new AbortController();
  leaving.push(() => controller.abort());
  // This visit is the current one from here on: a page still loading from the last visit
  // must not draw over a redirect, a refusal or a not-found.
  const token = (current = {});
  let who = person();
  if (!who && hasToken()) {
    // An expired or unreadable token: gone, and the person told why they are at the login
    // (a notice on the login page, which stays until they sign in again).
    forget();
    sessionEnded.mark();
  } else if (who && !who.roles.length) {
    // Signed in, but not staff (a citizen's token): no page of the console, no API call.
    forget();
    who = null;
    toast(t("login.noStaffRole"), "error");
  }
  const found = match(location.hash);
  if (!who && found.path !== "/login") {
    location.replace("#/login");
    return;
  }
  if (who) sessionEnded.clear(); // signed in again: the notice has served
  if (who && (found.path === "/" || found.path === "/login")) {
    location.replace(home(who));
    return;
  }
  drawFrame(who);
  const view = clear(main);
  const name = found.path === "/login" ? "login" : found.route?.page;
  if (!name) {
    view.append(h("h1", {}, t("app.title")), notice(t("app.notFound"), "error"));
    return;
  }
  if (found.route && !allowed(found.route, who)) {
    const roles = [...new Set(found.route.powers.flatMap(holders))].map((r) => t(`role.${r}`)).join(", ");
    view.append(h("h1", {}, t("app.title")), notice(t("app.forbidden", { roles }), "error"));
    return;
  }
  view.append(h("p", { class: "loading", role: "status" }, t("app.loading")));
  try {
    const module = await import(`./pages/${name}.js`);
    if (current !== token) return;
    clear(view);
    await module.default(view, {
      params: found.params,
      query: found.query,
      signal: controller.signal,
      onLeave: (fn) => leaving.push(fn),
      refresh: route,
      sessionEnded: name === "login" && sessionEnded.get(),
    });
    if (current === token && document.activeElement === document.body) main.focus({ preventScroll: true });
  } catch (error) {
    if (error?.name === "AbortError" || current !== token) return;
    clear(view).append(
      h("h1", {}, t("app.title")),
      notice(t("app.error", { message: error.message }), "error"),
      h("button", { type: "button", onclick: route }, t("app.retry")),
    );
  }
}

async function start() {
  document.documentElement.lang = lang();
  // the words come with the configuration; without them a page still works, showing its keys
  const words = loadWords().catch((error) => toast(error.message, "error"));
  const response = await fetch("config.json", { cache: "no-store" });
  await words;
  configure(await response.json());
  try {
    await completeHostedLogin();
  } catch (error) {
    toast(t("login.failed", { message: error.message }), "error");
  }
  window.addEventListener("hashchange", route);
  window.addEventListener("console:session-ended", () => {
    sessionEnded.mark();
    location.hash = "#/login";
  });
  await route();
}

start();

