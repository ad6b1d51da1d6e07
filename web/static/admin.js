// The tenant admin console: settings with a live widget preview, operators, canned replies, the unread-reply
// email template, plugins, satisfaction (CSAT), the delivery log, the audit trail and data exports.
import { $, api, el, signIn, signOut } from "./console.js";
import { auditPane } from "./admin-audit.js";
import { cannedPane } from "./admin-canned.js";
import { csatPane } from "./admin-csat.js";
import { deliveriesPane } from "./admin-deliveries.js";
import { exportsPane } from "./admin-exports.js";
import { operatorsPane } from "./admin-operators.js";
import { pluginsPane } from "./admin-plugins.js";
import { settingsPane } from "./admin-settings.js";
import { templatePane } from "./admin-template.js";

const root = $("#root");
const PANES = [
  { id: "settings", label: "Settings & widget", render: settingsPane },
  { id: "operators", label: "Operators", render: operatorsPane },
  { id: "canned", label: "Canned replies", render: cannedPane },
  { id: "template", label: "Email template", render: templatePane },
  { id: "plugins", label: "Plugins", render: pluginsPane },
  { id: "csat", label: "Satisfaction", render: csatPane },
  { id: "deliveries", label: "Delivery log", render: deliveriesPane },
  { id: "audit", label: "Audit trail", render: auditPane },
  { id: "export", label: "Data export", render: exportsPane },
];
let me = null;
let tenant = null;
const ui = {};

async function main() {
  me = await signIn(root, "Tandem — admin console");
  if (me.role !== "admin") {
    root.replaceChildren(el("main", { class: "login" }, el("h1", {}, "Admins only"),
      el("p", {}, `${me.name}, this console is for your company's admins.`), el("a", { href: "/app" }, "Open the operator workspace"),
      el("button", { class: "button button--quiet", type: "button", onclick: signOut }, "Log out")));
    return;
  }
  tenant = await api("GET", "/admin/tenant");
  ui.nav = el("nav", { role: "tablist", "aria-label": "Sections", "aria-orientation": "vertical" });
  ui.pane = el("main", { class: "pane", id: "pane", role: "tabpanel" });
  root.replaceChildren(
    el("header", { class: "top" }, el("span", { class: "top__brand" }, "Tandem"), el("span", {}, `Admin · ${tenant.name}`),
      el("span", { class: "top__spacer" }), el("a", { href: "/app" }, "Workspace"), el("a", { href: `/demo?key=${encodeURIComponent(tenant.widget_key)}` }, "Demo page"),
      el("span", {}, me.name), el("button", { class: "button button--quiet", type: "button", onclick: signOut }, "Log out")),
    el("div", { class: "console" }, ui.nav, ui.pane));
  const wanted = PANES.find((p) => `#${p.id}` === location.hash) || PANES[0];
  show(wanted.id);
  window.addEventListener("hashchange", () => { const p = PANES.find((x) => `#${x.id}` === location.hash); if (p) show(p.id); });
}

async function show(id) {
  history.replaceState(null, "", `#${id}`);
  ui.nav.replaceChildren(...PANES.map((p) => el("button", { type: "button", role: "tab", id: `nav-${p.id}`, "aria-selected": String(p.id === id), onclick: () => show(p.id) }, p.label)));
  ui.pane.setAttribute("aria-labelledby", `nav-${id}`);
  ui.pane.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  const ctx = { me, tenant, reload: () => show(id) };
  try { ui.pane.replaceChildren(...await PANES.find((p) => p.id === id).render(ctx)); } catch (e) {
    ui.pane.replaceChildren(el("p", { class: "error", role: "alert" }, e.message));
  }
}

main().catch((e) => root.replaceChildren(el("p", { class: "error", role: "alert" }, `The console could not start: ${e.message}`)));
