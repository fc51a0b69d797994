// The signed-in person's token and the server's HTTP reads.
//
// The token is kept in this tab's sessionStorage (a reload stays signed in, another tab
// or a closed browser does not) and only ever travels in an Authorization header: never
// in a URL, which ends up in logs and browser history.

const KEY = "sts.token";

export class AuthError extends Error {}

export function storedToken() {
  return sessionStorage.getItem(KEY) || "";
}

export function storeToken(token) {
  sessionStorage.setItem(KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(KEY);
}

async function call(path, token, method = "GET") {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
  } catch (err) {
    throw new Error(`the server cannot be reached (${err.message})`);
  }
  if (response.status === 401 || response.status === 403) {
    const body = await response.json().catch(() => ({}));
    throw new AuthError(body.message || "the token was refused");
  }
  if (response.status === 429) {
    throw new AuthError("too many failed sign-ins from this computer: wait a minute");
  }
  if (!response.ok) {
    throw new Error(`${path}: HTTP ${response.status}`);
  }
  return response.json();
}

/** A single-use ticket for the feed's first message. */
export async function ticket(token) {
  const body = await call("/auth/ticket", token, "POST");
  return body.ticket;
}

/** Who is signed in, what they may see and do, and the state the feed continues from. */
export function snapshot(token) {
  return call("/api/snapshot", token);
}

export function rollcall(token) {
  return call("/api/rollcall", token);
}

export function attendance(token) {
  return call("/api/attendance", token);
}

/** The floorplan as GeoJSON in the site's local metres (no token needed: no student data). */
export async function floorplan() {
  const response = await fetch("/floorplan.geojson", { cache: "no-store" });
  if (!response.ok) throw new Error(`floorplan: HTTP ${response.status}`);
  return response.json();
}
