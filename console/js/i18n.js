// Korean first, English available. Pages add their own words with `words({ko, en})`;
// a key missing in English falls back to Korean, a key missing everywhere shows itself.

const LANG_KEY = "gimhae.console.lang";
const dictionaries = { ko: {}, en: {} };

export function words(more) {
  for (const lang of Object.keys(dictionaries)) Object.assign(dictionaries[lang], more[lang] || {});
}

export function lang() {
  const chosen = localStorage.getItem(LANG_KEY);
  return chosen === "en" ? "en" : "ko";
}

export function setLang(value) {
  localStorage.setItem(LANG_KEY, value === "en" ? "en" : "ko");
  document.documentElement.lang = lang();
}

/** t("alerts.count", {n: 3}) -> the phrase with {n} filled in. */
export function t(key, vars = {}) {
  const phrase = dictionaries[lang()][key] ?? dictionaries.ko[key] ?? key;
  return phrase.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
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

words({
  ko: {
    "app.title": "김해 스마트시티 관제센터",
    "app.skip": "본문으로 건너뛰기",
    "app.loading": "불러오는 중…",
    "app.logout": "로그아웃",
    "app.language": "English",
    "app.language.label": "Switch to English",
    "app.nav": "메뉴",
    "app.roles": "역할",
    "app.notFound": "없는 페이지입니다.",
    "app.forbidden": "이 페이지를 볼 권한이 없습니다. 필요한 역할: {roles}",
    "app.error": "문제가 생겼습니다: {message}",
    "app.retry": "다시 시도",
    "app.more": "더 보기",
    "app.refresh": "새로고침",
    "app.none": "없음",
    "app.sessionEnded": "로그인이 만료되었습니다. 다시 로그인하세요.",
    "role.admin": "관리자",
    "role.operator": "운영자",
    "role.finance": "재무",
    "role.support": "상담",
    "nav.city": "도시 현황",
    "nav.alerts": "경보",
    "nav.quarantine": "격리 메시지",
    "nav.deadLetters": "처리 실패 큐",
    "nav.payouts": "지급",
    "nav.corrections": "포인트 정정",
    "nav.citizens": "시민 조회",
    "nav.audit": "원장 감사",
    "nav.reports": "재활용 보고서",
    "nav.actions": "작업 기록",
    "login.title": "콘솔 로그인",
    "login.dev": "개발용 로그인 (로컬 스택 전용): 사람과 역할을 고르세요.",
    "login.person": "이름(아이디)",
    "login.roles": "역할",
    "login.submit": "로그인",
    "login.hosted": "김해시 계정으로 로그인",
    "login.noRole": "역할을 하나 이상 고르세요.",
    "login.failed": "로그인하지 못했습니다: {message}",
    "login.noStaffRole": "이 계정에는 직원 역할이 없습니다.",
  },
  en: {
    "app.title": "Gimhae Smart City Control Room",
    "app.skip": "Skip to content",
    "app.loading": "Loading…",
    "app.logout": "Log out",
    "app.language": "한국어",
    "app.language.label": "한국어로 보기",
    "app.nav": "Menu",
    "app.roles": "Roles",
    "app.notFound": "There is no such page.",
    "app.forbidden": "Your roles do not allow this page. Roles that would: {roles}",
    "app.error": "Something went wrong: {message}",
    "app.retry": "Try again",
    "app.more": "Show more",
    "app.refresh": "Refresh",
    "app.none": "None",
    "app.sessionEnded": "Your session has ended. Please log in again.",
    "role.admin": "Admin",
    "role.operator": "Operator",
    "role.finance": "Finance",
    "role.support": "Support",
    "nav.city": "City",
    "nav.alerts": "Alerts",
    "nav.quarantine": "Quarantine",
    "nav.deadLetters": "Dead letters",
    "nav.payouts": "Payouts",
    "nav.corrections": "Corrections",
    "nav.citizens": "Citizens",
    "nav.audit": "Ledger audit",
    "nav.reports": "Recycling reports",
    "nav.actions": "Action log",
    "login.title": "Console login",
    "login.dev": "Development login (local stack only): choose a person and roles.",
    "login.person": "Person",
    "login.roles": "Roles",
    "login.submit": "Log in",
    "login.hosted": "Log in with your Gimhae account",
    "login.noRole": "Choose at least one role.",
    "login.failed": "Could not log in: {message}",
    "login.noStaffRole": "This account holds no staff role.",
  },
});
