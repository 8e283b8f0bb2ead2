// What is due soon across the user's cards and loans: a line each, soonest first, overdue said
// in words.

import { el, money } from "./common.js";

function day(isoDate) {
  // A due date is a calendar day: shown as that day wherever the reader is.
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" }).format(
    new Date(`${isoDate}T00:00:00Z`),
  );
}

function paymentRow(payment) {
  const amount = payment.amountDue ?? payment.minimumPayment;
  const parts = [];
  if (payment.minimumPayment !== null && payment.amountDue !== null && payment.minimumPayment !== payment.amountDue) {
    parts.push(`minimum ${money(payment.minimumPayment, payment.currency)}`);
  }
  return el(
    "li",
    { class: payment.overdue ? "payment overdue" : "payment", "data-payment-for": payment.accountId },
    el(
      "div",
      { class: "name" },
      el("strong", {}, payment.accountName),
      payment.overdue ? el("span", { class: "badge error" }, "Overdue") : null,
      el("small", {}, [payment.provider, ...parts].join(" · ")),
    ),
    el(
      "div",
      { class: "balance" },
      el(
        "strong",
        { class: "amount", "data-amount": amount ?? "" },
        amount === null ? "amount not known" : money(amount, payment.currency),
      ),
      el("small", { class: "due", "data-date": payment.dueDate }, `${payment.overdue ? "was due" : "due"} ${day(payment.dueDate)}`),
    ),
  );
}

export function renderPayments(answer) {
  const section = document.getElementById("payments");
  document.getElementById("payment-list").replaceChildren(...answer.payments.map(paymentRow));
  document.getElementById("payments-none").hidden = answer.payments.length > 0;
  document.getElementById("payments-title").textContent = `Due in the next ${answer.within} days`;
  section.hidden = false;
}
