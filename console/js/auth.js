// Who is using the console. The token lives in sessionStorage (never a cookie, never
// localStorage): it ends with the tab. Locally the stack's dev login mints it; in AWS it
// is Cognito's ID token from the hosted login (authorization code with PKCE).

const TOKEN_KEY = "gimhae.console.token";
const PKCE_KEY = "gimhae.console.pkce";
export const ROLES = ["admin", "operator", "finance", "support"];

let config = { auth: { mode: "dev" }, powers: {}, tiles: null };

export function configure(loaded) {
  config = loaded;
}

export function settings() {
  return config;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function base64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeClaims(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** The logged-in person ({sub, name, roles}) or null when there is no live token. */
export function person(now = Date.now()) {
  const jwt = token();
  const claims = jwt && decodeClaims(jwt);
  if (!claims || typeof claims.exp !== "number" || claims.exp * 1000 <= now) return null;
  const groups = Array.isArray(claims["cognito:groups"]) ? claims["cognito:groups"] : [];
  return {
    sub: claims.sub,
    name: claims["cognito:username"] || claims.email || claims.sub,
    roles: ROLES.filter((role) => groups.includes(role)),
  };
}

/** May the person use `power` (a name from domain/roles.py's Power)? */
export function can(power, who = person()) {
  const holders = config.powers[power] || ["admin"];
  return !!who && who.roles.some((role) => holders.includes(role));
}

export function holders(power) {
  return config.powers[power] || ["admin"];
}

export function forget() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Dev login: the local stack mints a token for the chosen person and roles. */
export async function devLogin(sub, roles) {
  const response = await fetch("/console/dev-login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sub, roles }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body?.error?.message || `HTTP ${response.status}`);
  sessionStorage.setItem(TOKEN_KEY, body.token);
}

/** Hosted login, step 1: off to Cognito with a PKCE challenge and a state to check. */
export async function startHostedLogin() {
  const { domain, client_id: clientId, redirect_uri: redirectUri } = config.auth;
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, back: location.hash }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: "openid email profile",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  location.assign(`${domain}/oauth2/authorize?${query}`);
}

/** Hosted login, step 2: back with ?code=&state=, trade the code for tokens. */
export async function completeHostedLogin() {
  const query = new URLSearchParams(location.search);
  if (config.auth.mode !== "cognito" || !query.has("code")) return false;
  const pending = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
  sessionStorage.removeItem(PKCE_KEY);
  history.replaceState(null, "", location.pathname + (pending?.back || ""));
  if (!pending || query.get("state") !== pending.state) throw new Error("the login's state does not match");
  const { domain, client_id: clientId, redirect_uri: redirectUri } = config.auth;
  const response = await fetch(`${domain}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: clientId,
      code: query.get("code"),
      redirect_uri: redirectUri,
      code_verifier: pending.verifier,
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.id_token) throw new Error(body.error || `HTTP ${response.status}`);
  sessionStorage.setItem(TOKEN_KEY, body.id_token);
  return true;
}

export function logout() {
  forget();
  if (config.auth.mode === "cognito") {
    const { domain, client_id: clientId, redirect_uri: redirectUri } = config.auth;
    location.assign(`${domain}/logout?${new URLSearchParams({ client_id: clientId, logout_uri: redirectUri })}`);
  } else {
    location.hash = "#/login";
  }
}
