// The HTTP API, as the console uses it: the bearer token, JSON in and out, the error shape
// of DESIGN §4 turned into an ApiError, and a lost session sent back to the login.
import { forget, token } from "./auth.js";

export class ApiError extends Error {
  constructor(status, code, message, details = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

function url(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function send(method, path, { query, body, signal, accept = "application/json" } = {}) {
  const headers = { accept };
  const bearer = token();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(url(path, query), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (response.status === 401) {
    forget();
    window.dispatchEvent(new CustomEvent("console:session-ended"));
  }
  if (!response.ok) {
    const payload = await response.json().catch(() => null);
    const error = payload?.error || {};
    throw new ApiError(response.status, error.code || "http_error", error.message || `HTTP ${response.status}`, error.details);
  }
  return response;
}

export async function get(path, query, options = {}) {
  return (await send("GET", path, { ...options, query })).json();
}

export async function post(path, body = {}, options = {}) {
  return (await send("POST", path, { ...options, body })).json();
}

export async function put(path, body = {}, options = {}) {
  return (await send("PUT", path, { ...options, body })).json();
}

export async function del(path, options = {}) {
  const response = await send("DELETE", path, options);
  return response.status === 204 ? null : response.json();
}

/** Fetch a file with the token and hand it to the browser as a download (`options.accept`
 * asks for one of the route's types, e.g. the spreadsheet). */
export async function download(path, fallbackName, options = {}) {
  const response = await send("GET", path, { accept: "*/*", ...options });
  const disposition = response.headers.get("content-disposition") || "";
  const named = /filename="?([^";]+)"?/.exec(disposition);
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const anchor = document.createElement("a");
  anchor.href = href;
  anchor.download = named ? named[1] : fallbackName;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10000);
  return { name: anchor.download, bytes: blob.size };
}

/** Every page of a cursor-paged list (stops at `max` items). */
export async function all(path, key, query = {}, { max = 1000, signal } = {}) {
  const items = [];
  let cursor;
  do {
    const page = await get(path, { ...query, cursor }, { signal });
    items.push(...(page[key] || []));
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}
