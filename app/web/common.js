// What every part of the page shares: reading the service's API (exact amounts, problems in
// words) and building the DOM with textContent only.

export class Problem extends Error {
  constructor(status, title, detail, retryAfter = null) {
    super(detail);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

// Amounts keep the digits the service sent: a reviver with the source text (JSON.parse's
// `context`) instead of a float, and Intl.NumberFormat formats such decimal strings exactly.
export function parseExact(text) {
  return JSON.parse(text, (key, value, context) =>
    typeof value === "number" && context ? context.source : value,
  );
}

export function money(amount, currency) {
  return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(amount);
}

export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined && value !== false) element.setAttribute(name, value);
  }
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}

export async function api(path, method = "GET", sent = undefined) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem("token");
  if (token) headers.Authorization = `Bearer ${token}`;
  if (sent !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: sent === undefined ? undefined : JSON.stringify(sent) });
  } catch {
    throw new Problem(0, "Can't reach accounts-service", "The service did not answer.");
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? parseExact(text) : null;
  } catch {
    // Not JSON: something in between (a proxy) answered; the status still says what happened.
  }
  if (!response.ok) {
    throw new Problem(
      response.status,
      body?.title ?? `The service answered ${response.status}`,
      body?.detail ?? "",
      response.headers.get("Retry-After"),
    );
  }
  return body;
}

export function userPath(user, rest = "") {
  return `users/${encodeURIComponent(user)}${rest}`;
}
