// Platform console: the tenants — their use (today, 7 and 30 days), suspension, limits, plugins'
// health, exports of their data and their deletion — and a form to create one.
import { api, clock, el } from "./console.js";
import { exportsView } from "./console-exports.js";

const METRICS = [
  ["visitor_messages", "Visitor messages"],
  ["operator_replies", "Operator replies"],
  ["chats_started", "Chats started"],
  ["new_visitors", "New visitors"],
  ["mails_sent", "Mails sent"],
  ["mails_failed", "Mails failed"],
  ["webhooks_sent", "Webhooks sent"],
  ["webhooks_failed", "Webhooks failed"],
  ["plugin_failures", "Plugin failures"],
];
const LIMITS = [
  ["operators", "Operators"], ["plugins", "Plugins"], ["plugin_memory_mib", "Plugin memory (MiB)"],
  ["plugin_timeout_ms", "Plugin time per call (ms)"], ["messages_per_minute", "Messages a minute"],
  ["file_mib", "Largest file (MiB)"], ["storage_mib", "File storage (MiB)"],
];

export async function tenantsPane(ctx) {
  const [{ tenants }, { tenants: usage }] = await Promise.all([api("GET", "/platform/tenants"), api("GET", "/platform/usage")]);
  const usageOf = new Map(usage.map((u) => [u.tenant_id, u]));
  const n = (u, metric, window) => u?.counts?.[metric]?.[window] ?? 0;
  const messages = (u, w) => n(u, "visitor_messages", w) + n(u, "operator_replies", w);
  const body = el("tbody", {}, ...tenants.map((t) => {
    const u = usageOf.get(t.id);
    const details = el("tr", { class: "tenant-details", hidden: true }, el("td", { colspan: 7 }));
    const open = el("button", { class: "button button--quiet details", type: "button", "aria-expanded": "false" }, "Details");
    open.addEventListener("click", async () => {
      const showing = open.getAttribute("aria-expanded") === "true";
      open.setAttribute("aria-expanded", String(!showing));
      details.hidden = showing;
      if (!showing) details.firstChild.replaceChildren(...await tenantDetails(t, u, ctx).catch((e) => [el("p", { class: "error", role: "alert" }, e.message)]));
    });
    return [el("tr", { dataset: { tenant: t.slug } },
      el("th", { scope: "row" }, t.name, el("div", { class: "muted" }, t.slug)),
      el("td", { class: "status" }, t.deletion_due_at ? el("span", { class: "badge badge--off" }, `to be deleted ${clock(t.deletion_due_at)}`)
        : t.suspended ? el("span", { class: "badge badge--off" }, "suspended") : "active"),
      el("td", { class: "sockets" }, String(u?.open_sockets ?? 0)),
      el("td", { class: "messages" }, `${messages(u, "today")} · ${messages(u, "days_7")} · ${messages(u, "days_30")}`),
      el("td", {}, `${n(u, "mails_sent", "days_7")} / ${n(u, "mails_failed", "days_7")}`),
      el("td", { class: "plugin-failures" }, String(n(u, "plugin_failures", "days_7"))),
      el("td", {}, open)), details];
  }).flat());
  return [el("h1", {}, "Tenants"),
    el("p", { class: "muted" }, "Use is counted as the work happens: messages today · 7 days · 30 days (UTC days); mails sent / failed and plugin failures over 7 days; widget sockets open now."),
    el("table", { id: "tenants" }, el("thead", {}, el("tr", {}, ...["Tenant", "Status", "Open sockets", "Messages", "Mails sent / failed", "Plugin failures", ""].map((h) => el("th", { scope: "col" }, h)))), body),
    createForm(ctx)];
}

async function tenantDetails(t, u, ctx) {
  const { plugins } = await api("GET", `/platform/tenants/${t.id}/plugins`);
  const windows = (metric) => ["today", "days_7", "days_30"].map((w) => el("td", {}, String(u?.counts?.[metric]?.[w] ?? 0)));
  const status = el("p", { role: "status" });
  const toggle = el("button", { class: t.suspended ? "button" : "button button--danger", type: "button", id: `suspend-${t.slug}` },
    t.suspended ? "Resume" : "Suspend");
  toggle.hidden = Boolean(t.deletion_due_at); // resuming waits for the deletion to be called off
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try { await api("PATCH", `/platform/tenants/${t.id}`, { suspended: !t.suspended }); ctx.reload(); } catch (e) {
      status.textContent = e.message; status.className = "error"; toggle.disabled = false;
    }
  });
  return [
    el("div", { class: "tenant-actions" }, toggle,
      el("span", { class: "muted" }, t.deletion_due_at ? "Suspended until its deletion (below); call the deletion off to resume it."
        : t.suspended ? " Its widget, sockets and logins are refused; nothing is deleted." : " Suspending refuses its widget and logins at once and closes its sockets; nothing is deleted.")),
    status,
    el("h2", {}, "Use"),
    el("table", { class: "usage" }, el("thead", {}, el("tr", {}, ...["", "Today", "7 days", "30 days"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...METRICS.map(([metric, label]) => el("tr", { dataset: { metric } }, el("th", { scope: "row" }, label), ...windows(metric))))),
    el("h2", {}, "Plugins"),
    plugins.length ? el("table", { class: "plugins-health" },
      el("thead", {}, el("tr", {}, ...["Plugin", "State", "Failures in a row", "Latest errors"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...plugins.map((p) => el("tr", { dataset: { plugin: p.name } },
        el("th", { scope: "row" }, p.name, el("div", { class: "muted" }, p.version)),
        el("td", {}, p.enabled ? "enabled" : el("span", {}, "disabled", p.disabled_reason ? el("div", { class: "muted" }, p.disabled_reason) : null)),
        el("td", {}, String(p.consecutive_failures)),
        el("td", {}, p.last_errors.length ? el("ul", { class: "audit__changes" }, ...p.last_errors.map((line) => el("li", {}, `${new Date(line.at).toLocaleString()} ${line.hook || ""}: ${line.message}`))) : "—")))))
      : el("p", { class: "muted" }, "No plugins."),
    el("h2", {}, "Limits"),
    limitsForm(t, ctx),
    el("h2", {}, "Data export"),
    el("p", { class: "muted" }, "The company's data as a gzipped JSON Lines file, prepared in the background and kept 7 days."),
    ...await exportsView(`/platform/tenants/${t.id}/exports`),
    el("h2", {}, "Deletion"),
    deletion(t, ctx),
  ];
}

// Deleting a company: scheduled after a grace period (suspended at once), called off while it runs.
function deletion(t, ctx) {
  const status = el("p", { role: "status" });
  const fail = (e) => { status.textContent = e.message; status.className = "error"; };
  if (t.deletion_due_at) {
    const cancel = el("button", { class: "button", type: "button", id: `cancel-deletion-${t.slug}` }, "Call the deletion off");
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      try { await api("DELETE", `/platform/tenants/${t.id}/deletion`); ctx.reload(); } catch (e) { fail(e); cancel.disabled = false; }
    });
    return el("div", { class: "tenant-deletion" },
      el("p", {}, `Everything ${t.name} owns is deleted at ${clock(t.deletion_due_at)}. Until then it stays suspended, and its data can still be exported.`),
      cancel, status);
  }
  const id = `grace-${t.slug}`;
  const days = el("input", { id, type: "number", min: "0", max: "365", required: true, value: "30" });
  const form = el("form", { class: "inline-form tenant-deletion" },
    el("div", { class: "field" }, el("label", { for: id }, "Grace period (days)"), days),
    el("button", { class: "button button--danger", type: "submit", id: `delete-${t.slug}` }, "Delete this company…"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!confirm(`Suspend ${t.name} now and delete everything it owns — chats, visitors, operators, files, plugins, its audit trail — in ${days.value} days?`)) return;
    try { await api("POST", `/platform/tenants/${t.id}/deletion`, { grace_days: Number(days.value) }); ctx.reload(); } catch (e) { fail(e); }
  });
  return form;
}

function limitsForm(t, ctx) {
  const status = el("p", { role: "status" });
  const inputs = LIMITS.map(([key, label]) => {
    const id = `limit-${t.slug}-${key}`;
    const input = el("input", { id, name: key, type: "number", min: "0", required: true, value: String(t.limits[key]) });
    return [key, input, el("div", { class: "field" }, el("label", { for: id }, label), input)];
  });
  const form = el("form", { class: "limits" }, ...inputs.map(([, , field]) => field),
    el("button", { class: "button", type: "submit" }, "Save limits"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const limits = Object.fromEntries(inputs.map(([key, input]) => [key, Number(input.value)]));
    try {
      await api("PATCH", `/platform/tenants/${t.id}`, { limits });
      status.textContent = "Limits saved."; status.className = "";
      setTimeout(ctx.reload, 600);
    } catch (e) { status.textContent = e.message; status.className = "error"; }
  });
  return form;
}

function createForm(ctx) {
  const field = (id, label, attrs) => {
    const input = el("input", { id, required: true, ...attrs });
    return [input, el("div", { class: "field" }, el("label", { for: id }, label), input)];
  };
  const [slug, slugField] = field("new-slug", "Slug (a-z, 0-9, -)", { pattern: "[a-z0-9][a-z0-9-]*[a-z0-9]", minlength: "2", maxlength: "63" });
  const [name, nameField] = field("new-name", "Name", { maxlength: "100" });
  const [email, emailField] = field("new-admin-email", "First admin's email", { type: "email" });
  const status = el("div", { role: "status" });
  const form = el("form", { id: "new-tenant", class: "inline-form" }, el("h2", {}, "New tenant"), slugField, nameField, emailField,
    el("button", { class: "button", type: "submit" }, "Create"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const created = await api("POST", "/platform/tenants", { slug: slug.value.trim(), name: name.value.trim(), admin_email: email.value.trim() });
      status.className = "";
      status.replaceChildren(el("p", {}, `Created ${created.slug}. The admin signs in at /admin with the company `, el("code", {}, created.slug),
        ", the email ", el("code", {}, created.admin.email), " and this password, shown only now: ", el("code", { id: "new-admin-password" }, created.admin.password)),
        el("button", { class: "button button--quiet", type: "button", onclick: ctx.reload }, "Done"));
    } catch (e) { status.className = "error"; status.textContent = e.message; }
  });
  return form;
}
