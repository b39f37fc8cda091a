// Korean first, English available. The words live in console/i18n/<lang>.json (one flat key
// space), fetched once per language by the shell before a page draws (`loadWords`). A key
// missing in English falls back to Korean (when Korean has been loaded), a key missing
// everywhere shows itself; tests/unit/test_console_words.py keeps both files complete.

const LANG_KEY = "gimhae.console.lang";
const dictionaries = { ko: {}, en: {} };
const loaded = new Map();

/** Fetch the words of `language` (once; a failed fetch may be tried again). */
export function loadWords(language = lang()) {
  if (!loaded.has(language)) {
    const url = new URL(`../i18n/${language}.json`, import.meta.url);
    const promise = fetch(url).then(async (response) => {
      if (!response.ok) throw new Error(`words (${language}): HTTP ${response.status}`);
      dictionaries[language] = await response.json();
    });
    promise.catch(() => loaded.delete(language));
    loaded.set(language, promise);
  }
  return loaded.get(language);
}

export function lang() {
  const chosen = localStorage.getItem(LANG_KEY);
  return chosen === "en" ? "en" : "ko";
}

export function setLang(value) {
  localStorage.setItem(LANG_KEY, value === "en" ? "en" : "ko");
  document.documentElement.lang = lang();
}

/** t("alerts.shown", {n: 3}) -> the phrase with {n} filled in. */
export function t(key, vars = {}) {
  const phrase = dictionaries[lang()][key] ?? dictionaries.ko[key] ?? key;
  return phrase.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** The console's word for a code the API sends (t(key, vars)), or `fallback` when it has
 * none (a code added to the API after the console). */
export function tOr(key, fallback, vars) {
  const phrase = t(key, vars);
  return phrase === key ? fallback : phrase;
}

const ZONE = "Asia/Seoul";

/** A moment as Seoul's wall clock: "2026-12-07 14:03" (seconds with {seconds: true}). */
export function when(iso, { seconds = false } = {}) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: seconds ? "2-digit" : undefined, hourCycle: "h23",
  }).formatToParts(date);
  const get = (type) => parts.find((p) => p.type === type)?.value;
  const time = `${get("hour")}:${get("minute")}${seconds ? `:${get("second")}` : ""}`;
  return `${get("year")}-${get("month")}-${get("day")} ${time}`;
}

/** How long ago, in words: "3분 전" / "3 min ago". */
export function ago(iso, now = Date.now()) {
  if (!iso) return "—";
  const seconds = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  const format = new Intl.RelativeTimeFormat(lang(), { numeric: "auto", style: "short" });
  if (seconds < 60) return format.format(-seconds, "second");
  if (seconds < 3600) return format.format(-Math.round(seconds / 60), "minute");
  if (seconds < 86400) return format.format(-Math.round(seconds / 3600), "hour");
  return format.format(-Math.round(seconds / 86400), "day");
}

export function num(value, options = {}) {
  if (value === null || value === undefined) return "—";
  return new Intl.NumberFormat(lang() === "en" ? "en-US" : "ko-KR", options).format(value);
}

/** Points are won (1 point = 1 KRW). */
export function won(points) {
  return lang() === "en" ? `₩${num(points)}` : `${num(points)}원`;
}

/** Today in Seoul as YYYY-MM-DD. */
export function seoulToday(now = new Date()) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: ZONE }).format(now);
}
