// The page at /: one user's money, read through the service's public API like any other client.
// No framework and no build step: the DOM is built with textContent only, so names that users
// and banks choose are never parsed as HTML.

import { Problem, api, el, money, userPath } from "./common.js";
import { hideHistory, showHistory } from "./history.js";
import { renderPayments } from "./payments.js";

const GROUPS = [
  ["checking", "Checking"],
  ["savings", "Savings"],
  ["credit", "Credit cards"],
  ["loan", "Loans"],
  ["investment", "Investments"],
];

const CONNECTION_STATUS = {
  healthy: "Up to date",
  expiring: "Access ends soon: renew it at the bank",
  syncing: "Syncing",
  login_required: "Sign in again at the bank",
  error: "Sync failed",
  disconnected: "Disconnected",
};

const JOB_PROGRESS = {
  queued: "Waiting for a worker…",
  running: "Reading accounts from the bank…",
};

const POLL_MILLISECONDS = 500;
const POLL_GIVE_UP_MILLISECONDS = 120000;

const form = document.getElementById("who");
// What a refresh last said, by connection id: kept across re-renders of the list.
const progress = new Map();
// Which load is the latest: an earlier one answering late (another user's, say) is dropped.
let latestLoad = 0;

function when(timestamp) {
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(
    new Date(timestamp),
  );
}

function hintFor(problem, user) {
  const wait = problem.retryAfter ? ` Try again in ${problem.retryAfter} seconds.` : " Try again in a moment.";
  switch (problem.status) {
    case 0:
      return "Check that it is running and that this page came from it." + wait;
    case 401:
      return `Sign-in is on for this service: paste a bearer token for ${user} above. For development, the command accounts-service token ${user} makes one.`;
    case 403:
      return `That token belongs to someone else: paste one for ${user}.`;
    case 404:
      return "Check the user id.";
    case 429:
      return "Too many requests at once." + wait;
    case 503:
      return "A server it depends on is not answering right now; nothing is lost." + wait;
    default:
      return problem.status >= 500
        ? "Something failed on the service's side; nothing you did. If it keeps happening, tell whoever runs it."
        : "";
  }
}

function showProblem(problem, user) {
  document.getElementById("problem-title").textContent = problem.title;
  document.getElementById("problem-detail").textContent = problem.detail;
  document.getElementById("problem-hint").textContent = hintFor(problem, user);
  document.getElementById("problem").hidden = false;
  for (const id of ["net-worth", "payments", "connections", "accounts"]) {
    document.getElementById(id).hidden = true;
  }
  hideHistory();
}

function renderNetWorth(summary) {
  const section = document.getElementById("net-worth");
  section.replaceChildren(
    ...summary.currencies.map((total) =>
      el(
        "div",
        { class: "total", "data-currency": total.currency },
        el("h2", {}, `Net worth (${total.currency})`),
        el("p", { class: "net", "data-amount": total.netWorth }, money(total.netWorth, total.currency)),
        el(
          "p",
          { class: "parts" },
          "Assets ",
          el("span", { class: "assets", "data-amount": total.assets }, money(total.assets, total.currency)),
          " · Liabilities ",
          el(
            "span",
            { class: "liabilities", "data-amount": total.liabilities },
            money(total.liabilities, total.currency),
          ),
        ),
      ),
    ),
  );
  if (summary.currencies.length === 0) section.append(el("p", {}, "No accounts yet."));
  section.hidden = false;
}

function accountRow(account) {
  const notes = [];
  if (account.status !== "open") notes.push(el("span", { class: `badge ${account.status}` }, account.status));
  if (account.hidden) notes.push(el("span", { class: "badge" }, "hidden"));
  if (!account.includeInNetWorth) notes.push(el("span", { class: "badge" }, "not in net worth"));
  const describedBy = [account.provider, account.subtype?.replaceAll("_", " ")].filter(Boolean).join(" · ");
  return el(
    "li",
    { "data-account-id": account.id, class: account.hidden ? "account hidden" : "account" },
    el(
      "div",
      { class: "name" },
      el("strong", {}, account.nickname || account.accountName),
      el("span", { class: "mask" }, account.mask ? `•••• ${account.mask}` : null),
      ...notes,
      el("small", {}, describedBy),
    ),
    el(
      "div",
      { class: "balance" },
      el(
        "strong",
        { class: "amount", "data-amount": account.balance, "data-currency": account.currency },
        money(account.balance, account.currency),
      ),
      el("small", { class: "as-of" }, account.balanceAsOf ? `as of ${when(account.balanceAsOf)}` : "entered by hand"),
    ),
    historyButton(account),
  );
}

// Opens the account's balance history in the chart above the list.
function historyButton(account) {
  const button = el("button", { type: "button", class: "history" }, "History");
  button.addEventListener("click", () => {
    showHistory(currentUser(), { id: account.id, name: account.nickname || account.accountName });
    document.getElementById("history").scrollIntoView();
  });
  return button;
}

function renderAccounts(accounts) {
  const section = document.getElementById("accounts");
  const known = new Set(GROUPS.map(([type]) => type));
  const others = [...new Set(accounts.map((account) => account.type).filter((type) => !known.has(type)))];
  const groups = [...GROUPS, ...others.map((type) => [type, type])];
  section.replaceChildren(
    ...groups
      .map(([type, label]) => [label, accounts.filter((account) => account.type === type)])
      .filter(([, members]) => members.length > 0)
      .map(([label, members]) =>
        el("div", { class: "group" }, el("h2", {}, label), el("ul", {}, ...members.map(accountRow))),
      ),
  );
  if (accounts.length === 0) section.append(el("p", {}, "This user holds no accounts."));
  section.hidden = false;
}

function connectionRow(connection, user) {
  const button = el("button", { type: "button", class: "refresh" }, "Refresh");
  button.disabled = connection.status === "disconnected";
  const said = el("p", { class: "progress", "aria-live": "polite" }, progress.get(connection.id) ?? "");
  button.addEventListener("click", () => refresh(user, connection, button, said));
  const lastSync = connection.lastSuccessfulSync ? `last synced ${when(connection.lastSuccessfulSync)}` : "never synced";
  const notes = [];
  if (connection.stale) notes.push(el("span", { class: "badge stale", "data-stale": "true" }, "Out of date"));
  if (connection.newAccountsAvailable) notes.push(el("span", { class: "badge syncing" }, "New accounts found"));
  return el(
    "li",
    { "data-connection-id": connection.id, class: "connection" },
    el(
      "div",
      { class: "name" },
      el("strong", {}, connection.institutionName ?? connection.institutionId),
      el("span", { class: `badge ${connection.status}`, "data-status": connection.status }, CONNECTION_STATUS[connection.status] ?? connection.status),
      ...notes,
      el("small", {}, `${connection.accountCount} accounts · ${lastSync}`),
      connection.consentExpiresAt ? el("small", { class: "consent" }, `access ends ${when(connection.consentExpiresAt)}`) : null,
      connection.error ? el("small", { class: "error" }, connection.error.message) : null,
    ),
    el("div", { class: "actions" }, button, connection.status === "login_required" ? signInAgain(user, connection, said) : null, said),
  );
}

// Update mode: the bank wants the person to log in again; the same connection is repaired.
function signInAgain(user, connection, said) {
  const form = el(
    "form",
    { class: "sign-in-again" },
    el("input", { name: "username", value: "user_good", "aria-label": "Username", autocomplete: "off" }),
    el("input", { name: "password", value: "pass_good", "aria-label": "Password", autocomplete: "off" }),
    el("button", { type: "submit" }, "Sign in again"),
  );
  const say = (text) => {
    progress.set(connection.id, text);
    said.textContent = text;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const credentials = { username: form.elements.username.value, password: form.elements.password.value };
    await asking(user, form.querySelector("button"), say, async () => {
      say("Signing in…");
      const path = `/connections/${encodeURIComponent(connection.id)}/login`;
      const repaired = await api(userPath(user, path), "POST", { credentials });
      const job = await api(userPath(user, `/sync-jobs/${encodeURIComponent(repaired.syncJobId)}`));
      if (await follow(user, job, say)) await load();
    });
  });
  return form;
}

function renderConnections(connections, user, canLink) {
  document.getElementById("connection-list").replaceChildren(...connections.map((c) => connectionRow(c, user)));
  document.getElementById("link").hidden = !canLink;
  document.getElementById("connections").hidden = connections.length === 0 && !canLink;
}

function sleep(milliseconds) {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function jobOutcome(job) {
  if (job.status === "failed") return `Sync failed: ${job.error?.message ?? "no reason given"}`;
  return `Synced: ${job.accountsUpdated} updated, ${job.accountsAdded} added, ${job.accountsClosed} closed`;
}

// Follows a sync job until it ends, saying how far it got; false when it is still going at the end.
async function follow(user, job, say) {
  const giveUp = Date.now() + POLL_GIVE_UP_MILLISECONDS;
  while (job.status === "queued" || job.status === "running") {
    if (Date.now() > giveUp) {
      say("Still syncing; come back later.");
      return false;
    }
    say(JOB_PROGRESS[job.status]);
    await sleep(POLL_MILLISECONDS);
    job = await api(userPath(user, `/sync-jobs/${encodeURIComponent(job.id)}`));
  }
  say(jobOutcome(job));
  return true;
}

// Runs `work` with `button` disabled, saying a refusal in words where `say` says.
async function asking(user, button, say, work) {
  button.disabled = true;
  try {
    await work();
  } catch (problem) {
    if (!(problem instanceof Problem)) throw problem;
    say(`${problem.title}. ${problem.detail} ${hintFor(problem, user)}`.trim());
  } finally {
    button.disabled = false;
  }
}

async function refresh(user, connection, button, said) {
  const say = (text) => {
    progress.set(connection.id, text);
    said.textContent = text;
  };
  await asking(user, button, say, async () => {
    say("Asking for a sync…");
    const job = await api(userPath(user, `/connections/${encodeURIComponent(connection.id)}/refresh`), "POST");
    if (await follow(user, job, say)) await load();
  });
}

async function link(user, linkForm) {
  const said = document.getElementById("link-progress");
  const say = (text) => {
    said.textContent = text;
  };
  const fields = linkForm.elements;
  await asking(user, linkForm.querySelector("button"), say, async () => {
    say("Linking…");
    const linked = await api(userPath(user, "/connections"), "POST", {
      provider: "sandbox",
      institutionId: fields.institution.value,
      credentials: { username: fields.username.value, password: fields.password.value },
    });
    const job = await api(userPath(user, `/sync-jobs/${encodeURIComponent(linked.syncJobId)}`));
    if (await follow(user, job, say)) await load();
  });
}

// Who there is to look at (admins, or anyone when sign-in is off): suggested in the user field,
// and the first one opened when none is asked for yet. Quietly nothing for anyone else.
async function suggestUsers() {
  let listed;
  try {
    listed = await api("users?limit=50");
  } catch (problem) {
    if (!(problem instanceof Problem)) throw problem;
    return;
  }
  document.getElementById("known-users").replaceChildren(...listed.users.map((id) => el("option", { value: id })));
  if (!currentUser() && listed.users.length > 0) location.hash = `user=${encodeURIComponent(listed.users[0])}`;
}

function currentUser() {
  return new URLSearchParams(location.hash.slice(1)).get("user") ?? "";
}

async function load() {
  const user = currentUser();
  form.elements.user.value = user;
  document.getElementById("ask").hidden = Boolean(user);
  if (!user) return;
  const mine = ++latestLoad;
  const loading = document.getElementById("loading");
  loading.hidden = false;
  try {
    const [list, summary, linked, offered, due] = await Promise.all([
      api(userPath(user, "/accounts")),
      api(userPath(user, "/summary")),
      api(userPath(user, "/connections")),
      api("providers"),
      api(userPath(user, "/payments?within=30")),
    ]);
    if (mine !== latestLoad) return;
    document.getElementById("problem").hidden = true;
    renderNetWorth(summary);
    renderPayments(due);
    showHistory(user);
    renderConnections(linked.connections, user, offered.providers.includes("sandbox"));
    renderAccounts(list.accounts);
  } catch (problem) {
    if (!(problem instanceof Problem)) throw problem;
    if (mine === latestLoad) showProblem(problem, user);
  } finally {
    if (mine === latestLoad) loading.hidden = true;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const token = form.elements.token.value.trim();
  if (token) sessionStorage.setItem("token", token);
  else sessionStorage.removeItem("token");
  const wanted = `user=${encodeURIComponent(form.elements.user.value.trim())}`;
  if (location.hash.slice(1) === wanted) load();
  else location.hash = wanted; // hashchange loads it
});
document.getElementById("retry").addEventListener("click", () => load());
document.getElementById("link-form").addEventListener("submit", (event) => {
  event.preventDefault();
  link(currentUser(), event.target);
});
window.addEventListener("hashchange", () => load());
form.elements.token.value = sessionStorage.getItem("token") ?? "";
load();
suggestUsers();
