// Platform console: the installation — its nodes and their heartbeats, the unread-reply queue
// and the webhook backlog with how late their oldest due item is, the database's size.
import { api, el, since } from "./console.js";
import { sizeText } from "./shared.js";

export async function healthPane() {
  const health = await api("GET", "/platform/health");
  const late = (ms) => (ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`);
  const backlog = (id, label, b) => el("tr", { id }, el("th", { scope: "row" }, label), el("td", {}, String(b.waiting)),
    el("td", {}, String(b.due)), el("td", {}, b.due ? late(b.oldest_due_ms) : "—"));
  return [el("h1", {}, "Installation"),
    el("h2", {}, "Nodes"),
    health.nodes.length ? el("table", { id: "nodes" },
      el("thead", {}, el("tr", {}, ...["Node", "Role", "Version", "Started", "Last heartbeat", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...health.nodes.map((n) => el("tr", { dataset: { alive: String(n.alive) } },
        el("th", { scope: "row" }, n.id), el("td", {}, n.role), el("td", {}, n.version),
        el("td", {}, new Date(n.started_at).toLocaleString()), el("td", {}, `${since(n.heartbeat_at)} ago`),
        el("td", {}, n.alive ? "alive" : el("span", { class: "badge badge--off" }, "silent"))))))
      : el("p", { class: "muted" }, "No node has reported yet."),
    el("h2", {}, "Queues"),
    el("table", { id: "queues" }, el("thead", {}, el("tr", {}, ...["", "Waiting", "Due now", "Oldest due, late by"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, backlog("queue-notifications", "Unread-reply notifications", health.notifications),
        backlog("queue-webhooks", "Webhook posts", health.webhooks))),
    el("h2", {}, "Database"),
    el("p", { id: "database-size" }, health.database_bytes === null ? "Its size is not known." : `${sizeText(health.database_bytes)} on disk.`)];
}
