// Money over time: the user's net worth in their base currency, or one account's balance once it
// is opened, over the last month, three months, year, or all of it.

import { drawSeries } from "./chart.js";
import { Problem, api, el, money, userPath } from "./common.js";

// Each range: its name, how many days back it starts, and the step between its points.
const RANGES = [
  ["1M", 30, "day"],
  ["3M", 91, "day"],
  ["1Y", 365, "day"],
  ["All", 3650, "week"],
];

let shown = { user: "", account: null, range: "1M" };
// Which draw is the latest: an earlier one answering late is dropped.
let latest = 0;

function daysAgo(days) {
  const day = new Date();
  day.setUTCDate(day.getUTCDate() - days);
  return day.toISOString().slice(0, 10);
}

// Words for the currencies a net-worth series could not convert on some of its days.
function missingRates(points, currency) {
  const days = new Map();
  for (const point of points) {
    for (const missing of point.missingRates) days.set(missing, (days.get(missing) ?? 0) + 1);
  }
  if (days.size === 0) return "";
  const which = [...days.keys()].sort().join(", ");
  const most = Math.max(...days.values());
  return (
    `Not counted: amounts in ${which}, on ${most} of the ${points.length} days shown. ` +
    `No exchange rate into ${currency} was published in the week before those days, ` +
    "and an amount is never taken at 1:1: those days are drawn hollow."
  );
}

async function draw() {
  const { user, account, range } = shown;
  const [, days, interval] = RANGES.find(([name]) => name === range);
  const query = `?from=${daysAgo(days)}&interval=${interval}`;
  const path = account
    ? userPath(user, `/accounts/${encodeURIComponent(account.id)}/balances${query}`)
    : userPath(user, `/net-worth${query}`);
  const mine = ++latest;
  const chart = document.getElementById("history-chart");
  const warning = document.getElementById("history-warning");
  let series;
  try {
    series = await api(path);
  } catch (problem) {
    if (!(problem instanceof Problem)) throw problem;
    if (mine === latest) chart.replaceChildren(el("p", { class: "empty" }, `The history did not load: ${problem.title}.`));
    return;
  }
  if (mine !== latest) return;
  const currency = series.currency;
  const points = series.points.map((point) =>
    account ? [point.date, point.balance, false] : [point.date, point.netWorth, point.missingRates.length > 0],
  );
  const what = account ? `${account.name}: balance` : "Net worth";
  document.getElementById("history-title").textContent = `${what} over time (${currency})`;
  document.getElementById("history-back").hidden = !account;
  for (const button of document.querySelectorAll("#history [data-range]")) {
    button.setAttribute("aria-pressed", String(button.dataset.range === range));
  }
  warning.textContent = account ? "" : missingRates(series.points, currency);
  warning.hidden = !warning.textContent;
  chart.replaceChildren(
    points.length === 0
      ? el("p", { class: "empty" }, "No balances recorded in this range.")
      : drawSeries(points, (amount) => money(amount, currency), `${what} (${currency})`),
  );
  document.getElementById("history").hidden = false;
}

// Shows the user's net worth over time, or `account`'s balance ({id, name}), in the range shown.
export function showHistory(user, account = null) {
  shown = { ...shown, user, account };
  return draw();
}

export function hideHistory() {
  latest += 1;
  document.getElementById("history").hidden = true;
}

for (const button of document.querySelectorAll("#history [data-range]")) {
  button.addEventListener("click", () => {
    shown = { ...shown, range: button.dataset.range };
    draw();
  });
}
document.getElementById("history-back").addEventListener("click", () => showHistory(shown.user));
