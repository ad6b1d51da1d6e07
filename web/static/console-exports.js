// Exports of a company's data as the consoles show them: ask for one, watch its progress, download
// it while it is kept. The admin console lists its company's; the platform console any company's.
import { api, clock, el } from "./console.js";
import { sizeText } from "./shared.js";

const STATUS = { pending: "Waiting", building: "Being prepared", ready: "Ready", failed: "Failed", expired: "Expired" };
const POLL_MS = 1500;

// `base` is the exports' endpoint ("/admin/exports", "/platform/tenants/<id>/exports").
export async function exportsView(base, { what = "the company's data" } = {}) {
  const list = el("div", { id: "exports" });
  const note = el("p", { class: "muted", role: "status" });
  const start = el("button", { class: "button", type: "button", id: "export-start" }, `Export ${what}`);
  let timer = null;
  let wait = POLL_MS;
  // While one is on its way, its progress is shown as it moves; the view stops when it is gone,
  // and a failed look waits longer before the next.
  const again = () => { timer = setTimeout(() => { if (list.isConnected) refresh().catch(() => { wait = Math.min(wait * 2, 30000); again(); }); }, wait); };
  const refresh = async () => {
    clearTimeout(timer);
    const { exports } = await api("GET", base);
    wait = POLL_MS;
    list.replaceChildren(exports.length ? table(base, exports) : el("p", { class: "muted" }, "No exports yet."));
    if (exports.some((x) => x.status === "pending" || x.status === "building")) again();
  };
  start.addEventListener("click", async () => {
    start.disabled = true;
    try {
      await api("POST", base);
      note.textContent = "Export asked for: it is prepared in the background.";
      await refresh();
    } catch (e) { note.textContent = e.message; }
    start.disabled = false;
  });
  await refresh();
  return [el("p", {}, start), note, list];
}

function table(base, exports) {
  return el("table", { class: "exports" },
    el("thead", {}, el("tr", {}, ...["Asked", "By", "Of", "Status", "Size", ""].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...exports.map((x) => row(base, x))));
}

function row(base, x) {
  const status = el("td", {}, el("span", { class: `badge badge--${x.status}` }, STATUS[x.status] || x.status));
  if (x.status === "building" && x.lines_total > 0) {
    const max = Math.max(x.lines_total, 1);
    status.append(" ", el("progress", { max: String(max), value: String(Math.min(x.lines_done, max)), "aria-label": "Progress" }),
      el("span", { class: "muted" }, ` ${x.lines_done} of about ${x.lines_total} lines`));
  }
  if (x.error && x.status !== "ready") status.append(el("div", { class: "error" }, x.error));
  const download = x.status === "ready"
    ? el("a", { class: "button button--quiet", href: `/api/v1${base}/${x.id}/download`, download: "" }, "Download")
    : null;
  const kept = x.status === "ready" && x.expires_at ? el("div", { class: "muted" }, `kept until ${clock(x.expires_at)}`) : null;
  return el("tr", { "data-export": x.id, "data-status": x.status },
    el("td", {}, clock(x.requested_at)),
    el("td", {}, x.requested_by),
    el("td", {}, x.visitor_id ? `visitor ${x.visitor_id.slice(0, 8)}…` : "whole company"),
    status,
    el("td", {}, x.status === "ready" ? sizeText(x.size_bytes) : "—"),
    el("td", {}, download, kept));
}
