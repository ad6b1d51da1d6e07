// Admin console: the delivery log of unread replies.
import { api, clock, el } from "./console.js";

export async function deliveriesPane() {
  const { deliveries } = await api("GET", "/admin/notifications?limit=200");
  return [el("h1", {}, "Delivery log"),
    el("p", { class: "muted" }, "Every unread reply that went out (or could not), by channel, newest first."),
    deliveries.length ? el("table", { id: "deliveries" },
      el("thead", {}, el("tr", {}, ...["When", "Channel", "To", "Status", "Messages", "Reason"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...deliveries.map((d) => el("tr", {}, el("td", {}, clock(d.created_at)), el("td", {}, d.channel), el("td", {}, d.recipient || "—"),
        el("td", {}, d.status), el("td", {}, String(d.message_ids.length)), el("td", {}, d.reason || "")))))
      : el("p", { class: "muted" }, "Nothing delivered yet.")];
}
