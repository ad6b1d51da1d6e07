// The platform console: what the company hosting Tandem sees of every tenant — their use, their
// plugins' health, suspension and limits — and of the installation: nodes, queues, database;
// and the audit trail of every change. Signed in with the platform token (an HttpOnly session).
import { $, api, el } from "./console.js";
import { auditView } from "./console-audit.js";
import { tenantsPane } from "./platform-tenants.js";
import { healthPane } from "./platform-health.js";

const root = $("#root");
const PANES = [
  { id: "tenants", label: "Tenants", render: tenantsPane },
  { id: "health", label: "Installation", render: healthPane },
  { id: "audit", label: "Audit trail", render: auditPane },
];
const ui = {};

async function auditPane() {
  const { tenants } = await api("GET", "/platform/tenants");
  const tenantNames = new Map(tenants.map((t) => [t.id, t.name]));
  return [el("h1", {}, "Audit trail"),
    el("p", { class: "muted" }, "Every change made by a tenant's admins, its operators (their own photos) and the platform, newest first. Secrets are never shown."),
    ...await auditView("/platform/audit", { showTenant: true, tenantNames })];
}

async function main() {
  await signIn();
  ui.nav = el("nav", { role: "tablist", "aria-label": "Sections", "aria-orientation": "vertical" });
  ui.pane = el("main", { class: "pane", id: "pane", role: "tabpanel" });
  root.replaceChildren(
    el("header", { class: "top" }, el("span", { class: "top__brand" }, "Tandem"), el("span", {}, "Platform"),
      el("span", { class: "top__spacer" }),
      el("button", { class: "button button--quiet", type: "button", onclick: signOut }, "Sign out")),
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
  try { ui.pane.replaceChildren(...await PANES.find((p) => p.id === id).render({ reload: () => show(id) })); } catch (e) {
    ui.pane.replaceChildren(el("p", { class: "error", role: "alert" }, e.message));
  }
}

// Asks for the platform token until it is right; the server answers with a session cookie.
async function signIn() {
  try { await api("GET", "/platform/health"); return; } catch (e) { if (e.status !== 401) throw e; }
  await new Promise((resolve) => {
    const error = el("p", { class: "error", role: "alert" });
    const token = el("input", { id: "platform-token", name: "token", type: "password", required: true, autocomplete: "current-password" });
    const submit = el("button", { class: "button", type: "submit" }, "Sign in");
    const form = el("form", { class: "login", "aria-labelledby": "login-title" },
      el("h1", { id: "login-title" }, "Tandem — platform console"),
      el("div", { class: "field" }, el("label", { for: "platform-token" }, "Platform token"), token),
      el("p", { class: "muted" }, "The installation's TANDEM_PLATFORM_TOKEN. The session lasts 12 hours."),
      error, submit);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      error.textContent = "";
      try {
        await api("POST", "/platform/session", { token: token.value });
        form.remove();
        resolve();
      } catch (e) {
        error.textContent = e.message;
        submit.disabled = false;
        token.select();
      }
    });
    root.replaceChildren(form);
    token.focus();
  });
}

async function signOut() {
  await api("DELETE", "/platform/session").catch(() => {});
  location.reload();
}

main().catch((e) => root.replaceChildren(el("p", { class: "error", role: "alert" }, `The console could not start: ${e.message}`)));
