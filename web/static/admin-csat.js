// Admin console: customer satisfaction — of the conversations visitors rated when an operator
// closed them, the share rated good, per week and per operator.
import { api, el } from "./console.js";

const WEEKS = 8;

export async function csatPane() {
  const csat = await api("GET", `/admin/csat?weeks=${WEEKS}`);
  const score = (t) => (t.score === null || t.score === undefined ? "—" : `${t.score}%`);
  const week = (iso) => new Date(iso).toLocaleDateString([], { day: "numeric", month: "short", timeZone: "UTC" });
  const rows = (items, label) => items.map((item) => el("tr", {}, el("th", { scope: "row" }, label(item)),
    el("td", {}, String(item.good)), el("td", {}, String(item.bad)), el("td", {}, score(item))));
  const table = (id, caption, first, items, label) => el("table", { id },
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, ...[first, "Good", "Bad", "CSAT"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows(items, label)));
  return [el("h1", {}, "Satisfaction"),
    el("p", { class: "muted" }, "When an operator closes a conversation, the visitor may rate it good or bad (once per close). CSAT is the share rated good; weeks start on Monday (UTC); a rating counts for the operator the chat was assigned to, or else the one who answered last."),
    el("p", { class: "csat-total", id: "csat-total" }, el("strong", {}, score(csat)),
      ` of ${csat.good + csat.bad} rated conversations were good over the last ${WEEKS} weeks`),
    table("csat-weeks", "By week", "Week of", [...csat.weeks].reverse(), (w) => week(w.starts)),
    csat.operators.length
      ? table("csat-operators", "By operator", "Operator", csat.operators, (o) => o.name)
      : el("p", { class: "muted" }, "No ratings yet.")];
}
