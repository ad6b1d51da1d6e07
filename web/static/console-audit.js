// The audit trail as the consoles show it: who changed what, when, from where, and each changed
// field before → after. The admin console reads its company's trail, the platform console all.
import { api, el } from "./console.js";

const PAGE = 50;

const ACTIONS = {
  tenant_created: "Company created",
  tenant_suspended: "Company suspended",
  tenant_resumed: "Company resumed",
  limits_changed: "Limits changed",
  settings_changed: "Settings changed",
  email_template_saved: "Email template saved",
  email_template_reset: "Email template reset",
  operator_created: "Operator added",
  operator_changed: "Operator changed",
  photo_changed: "Photo changed",
  photo_removed: "Photo removed",
  plugin_installed: "Plugin uploaded",
  plugin_changed: "Plugin changed",
  plugin_settings_saved: "Plugin settings saved",
  plugin_deleted: "Plugin deleted",
  canned_reply_created: "Canned reply added",
  canned_reply_changed: "Canned reply changed",
  canned_reply_deleted: "Canned reply deleted",
  webhook_secret_rotated: "Webhook secret rotated",
  visitor_erased: "Visitor erased",
  export_requested: "Export asked for",
  export_downloaded: "Export downloaded",
  tenant_deletion_scheduled: "Deletion scheduled",
  tenant_deletion_cancelled: "Deletion called off",
  tenant_deleted: "Company deleted",
};

// `path` is the trail's endpoint ("/admin/audit"); each page is asked for after the last entry.
// `tenantNames` (id → name), for the platform's view of every tenant's trail.
export async function auditView(path, { showTenant = false, tenantNames = new Map() } = {}) {
  const body = el("tbody", {});
  const more = el("button", { class: "button button--quiet", type: "button", id: "audit-more" }, "Older changes");
  let last = null;
  const load = async () => {
    const sep = path.includes("?") ? "&" : "?";
    const { entries } = await api("GET", `${path}${sep}limit=${PAGE}${last ? `&before=${last}` : ""}`);
    body.append(...entries.map((entry) => row(entry, showTenant && tenantNames)));
    last = entries.length ? entries[entries.length - 1].id : last;
    more.hidden = entries.length < PAGE;
    return entries.length;
  };
  more.addEventListener("click", async () => {
    more.disabled = true; // one page at a time: a second click would ask for the same page
    try { await load(); } catch (e) { more.replaceWith(el("p", { class: "error", role: "alert" }, e.message)); }
    more.disabled = false;
  });
  const shown = await load();
  const heads = ["When", "Who", ...(showTenant ? ["Company"] : []), "What", "Changes"];
  return shown
    ? [el("table", { id: "audit", class: "audit" }, el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", { scope: "col" }, h)))), body), more]
    : [el("p", { class: "muted" }, "No changes recorded yet.")];
}

function row(entry, tenantNames) {
  const who = el("td", {}, el("span", {}, entry.actor.label), " ", el("span", { class: "badge" }, entry.actor.kind),
    entry.actor.ip ? el("div", { class: "muted" }, entry.actor.ip) : null);
  const what = el("td", {}, el("strong", {}, ACTIONS[entry.action] || entry.action),
    el("div", { class: "muted" }, entry.target.label));
  const cells = [el("td", {}, el("time", { datetime: entry.at, title: entry.at }, when(entry.at))), who];
  if (tenantNames) cells.push(el("td", { title: entry.tenant_id || "" }, tenantNames.get(entry.tenant_id) || entry.tenant_id || "—"));
  cells.push(what, el("td", {}, changes(entry)));
  return el("tr", { dataset: { action: entry.action } }, ...cells);
}

function when(iso) {
  return new Date(iso).toLocaleString([], { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// One line per changed field: its path, what it was and what it became.
function changes(entry) {
  const lines = [];
  const walk = (before, after, path) => {
    const objects = [before, after].every((v) => v === undefined || v === null || (typeof v === "object" && !Array.isArray(v)));
    if (objects && (before || after)) {
      const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])];
      keys.forEach((k) => walk(before?.[k], after?.[k], path ? `${path}.${k}` : k));
    } else {
      lines.push(el("li", {}, el("code", {}, path || "value"), ": ", shown(before), " → ", shown(after)));
    }
  };
  if (!entry.before && !entry.after) return "";
  walk(entry.before ?? undefined, entry.after ?? undefined, "");
  return el("ul", { class: "audit__changes" }, ...lines);
}

function shown(value) {
  if (value === undefined || value === null) return el("span", { class: "muted" }, "—");
  if (value === "") return el("span", { class: "muted" }, "(empty)");
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return el("span", { class: "audit__value", title: text }, text.length > 120 ? `${text.slice(0, 120)}…` : text);
}
