// The tenant admin console: settings with a live widget preview, operators, the unread-reply
// email template, plugins and the delivery log.
import { $, ApiError, api, clock, el, signIn, signOut } from "./console.js";

const root = $("#root");
const PANES = [
  { id: "settings", label: "Settings & widget", render: settingsPane },
  { id: "operators", label: "Operators", render: operatorsPane },
  { id: "template", label: "Email template", render: templatePane },
  { id: "plugins", label: "Plugins", render: pluginsPane },
  { id: "deliveries", label: "Delivery log", render: deliveriesPane },
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
  try { ui.pane.replaceChildren(...await PANES.find((p) => p.id === id).render()); } catch (e) {
    ui.pane.replaceChildren(el("p", { class: "error", role: "alert" }, e.message));
  }
}

const field = (label, input, hint) => el("div", { class: "field" }, el("label", { for: input.id }, label), input, hint ? el("small", {}, hint) : null);
const lines = (text) => text.split("\n").map((l) => l.trim()).filter(Boolean);
function outcome() { return el("p", { role: "status", "aria-live": "polite" }); }
function report(target, error, okText) {
  target.className = error ? "error" : "ok";
  target.textContent = error ? error.message : okText;
}

// ---- settings, branding preview and the embed snippet ----
async function settingsPane() {
  const settings = await api("GET", "/admin/settings");
  const b = settings.branding;
  const input = (id, props) => el("input", { id, name: id, ...props });
  const f = {
    offline: input("offline_timeout_secs", { type: "number", min: "1", value: String(settings.offline_timeout_secs) }),
    grace: input("presence_grace_secs", { type: "number", min: "0", value: String(settings.presence_grace_secs) }),
    color: input("color", { type: "color", value: b.color }),
    title: input("title", { value: b.title, maxlength: "100" }),
    greeting: el("textarea", { id: "greeting", rows: 2, maxlength: "500" }, b.greeting),
    logo: input("logo_url", { type: "url", value: b.logo_url || "", placeholder: "https://…" }),
    position: el("select", { id: "position" }, ...["right", "left"].map((p) => el("option", { value: p, selected: b.position === p }, p))),
    language: el("select", { id: "language" }, el("option", { value: "en", selected: b.language === "en" }, "English"), el("option", { value: "ru", selected: b.language === "ru" }, "Русский")),
    origins: el("textarea", { id: "allowed_origins", rows: 3 }, settings.allowed_origins.join("\n")),
    webhooks: el("textarea", { id: "webhook_urls", rows: 3 }, settings.webhook_urls.join("\n")),
  };
  const branding = () => ({ color: f.color.value, title: f.title.value, greeting: f.greeting.value, logo_url: f.logo.value.trim() || null, position: f.position.value, language: f.language.value });
  const preview = widgetPreview();
  const refresh = () => preview.update(branding());
  for (const control of [f.color, f.title, f.greeting, f.logo, f.position, f.language]) {
    control.addEventListener("input", refresh);
    control.addEventListener("change", refresh);
  }
  refresh();
  const result = outcome();
  const save = el("button", { class: "button", type: "submit", id: "save-settings" }, "Save settings");
  const form = el("form", { class: "card", id: "settings-form" },
    el("h2", {}, "Chat behaviour"),
    field("Email unread replies after (seconds)", f.offline, "A reply the visitor has not read within this time is emailed (default 300)."),
    field("Presence grace (seconds)", f.grace, "How long a visitor may be away (a page change) before the chat counts as offline."),
    el("h2", {}, "Widget"),
    el("div", { class: "row" }, field("Colour", f.color), field("Position", f.position), field("Language", f.language)),
    field("Title", f.title), field("Greeting", f.greeting), field("Logo URL", f.logo),
    el("h2", {}, "Integration"),
    field("Allowed widget origins (one per line)", f.origins, "Empty: any site may embed the widget. Example: https://www.example.com"),
    field("Webhook URLs (one per line)", f.webhooks, "Plugins may route unread replies only to these."),
    result, el("div", {}, save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = true;
    try {
      await api("PUT", "/admin/settings", {
        offline_timeout_secs: Number(f.offline.value), presence_grace_secs: Number(f.grace.value), branding: branding(),
        allowed_origins: lines(f.origins.value), webhook_urls: lines(f.webhooks.value),
      });
      report(result, null, "Saved. Widgets pick the new look up on their next page load.");
    } catch (e) { report(result, e); } finally { save.disabled = false; }
  });
  const snippet = `<script src="${location.origin}/static/widget.js" data-key="${tenant.widget_key}" async></script>`;
  const code = el("textarea", { class: "snippet", id: "snippet", rows: 3, readonly: true, "aria-label": "Embed snippet" }, snippet);
  const copied = outcome();
  const copy = el("button", { class: "button button--quiet", type: "button", onclick: async () => {
    try { await navigator.clipboard.writeText(snippet); } catch { code.select(); document.execCommand("copy"); }
    report(copied, null, "Copied.");
  } }, "Copy");
  return [el("h1", {}, "Settings & widget"),
    el("div", { class: "grid2" }, form,
      el("div", { class: "card" }, el("h2", {}, "Preview"), preview.node,
        el("p", { class: "muted" }, "The preview follows the form as you type; save to apply it to your site.")))
    , el("section", { class: "card" }, el("h2", {}, "Embed on your site"),
      el("p", {}, "Paste this before </body> on every page that should show the chat:"), code, el("div", { class: "row" }, copy, copied,
        el("a", { href: `/demo?key=${encodeURIComponent(tenant.widget_key)}`, target: "_blank", rel: "noopener" }, "Open it on the demo page")))];
}

// A still picture of the open widget, drawn with the widget's own stylesheet in a shadow root.
function widgetPreview() {
  const node = el("div", { class: "preview", id: "widget-preview" });
  const shadow = node.attachShadow({ mode: "open" });
  const contain = el("style", {}, ".launcher, .panel { position: absolute !important; } .panel { height: 420px; width: 330px; }");
  const title = el("h2", { class: "title" });
  const greeting = el("p", { class: "greeting" });
  const logo = el("img", { class: "logo", alt: "" });
  const root = el("div", { class: "root root--open" },
    el("section", { class: "panel", "aria-label": "Widget preview" },
      el("header", { class: "header" }, logo, el("div", { class: "heading" }, title, el("p", { class: "status" }, "")), el("span", { class: "close" }, "×")),
      el("div", { class: "body" }, greeting, el("ol", { class: "log" },
        el("li", { class: "msg msg--visitor" }, el("div", { class: "bubble" }, "Hello! Is my order on its way?")),
        el("li", { class: "msg msg--operator" }, el("span", { class: "msg__author" }, me.name), el("div", { class: "bubble" }, "Hi! Let me check that for you.")))),
      el("form", { class: "composer" }, el("textarea", { rows: 1, disabled: true }), el("button", { class: "button", type: "button" }, "Send"))),
    el("button", { class: "launcher", type: "button", tabindex: "-1", "aria-hidden": "true" }));
  shadow.append(el("link", { rel: "stylesheet", href: "/static/widget.css" }), contain, root);
  return {
    node,
    update(branding) {
      const valid = /^#[0-9a-fA-F]{6}$/.test(branding.color);
      node.style.setProperty("--brand", valid ? branding.color : "#2563eb");
      root.classList.toggle("root--left", branding.position === "left");
      root.classList.toggle("root--right", branding.position !== "left");
      title.textContent = branding.title;
      greeting.textContent = branding.greeting;
      greeting.hidden = !branding.greeting;
      logo.hidden = !branding.logo_url;
      if (branding.logo_url) logo.src = branding.logo_url;
      root.querySelector(".composer .button").textContent = branding.language === "ru" ? "Отправить" : "Send";
    },
  };
}

// ---- operators ----
async function operatorsPane() {
  const { operators } = await api("GET", "/admin/operators");
  const result = outcome();
  const rows = operators.map((op) => {
    const role = el("select", { "aria-label": `Role of ${op.name}` }, ...["operator", "admin"].map((r) => el("option", { value: r, selected: op.role === r }, r)));
    const capacity = el("input", { type: "number", min: "1", max: "100", value: String(op.capacity), "aria-label": `Capacity of ${op.name}` });
    const save = el("button", { class: "button button--quiet", type: "button", onclick: async () => {
      try { await api("PATCH", `/admin/operators/${op.id}`, { role: role.value, capacity: Number(capacity.value) }); report(result, null, `${op.name} saved.`); } catch (e) { report(result, e); }
    } }, "Save");
    const toggle = el("button", { class: `button ${op.active ? "button--danger deactivate" : "button--quiet reactivate"}`, type: "button", onclick: async () => {
      try {
        if (op.active) await api("DELETE", `/admin/operators/${op.id}`); else await api("PATCH", `/admin/operators/${op.id}`, { active: true });
        show("operators");
      } catch (e) { report(result, e); }
    } }, op.active ? "Deactivate" : "Reactivate");
    return el("tr", { dataset: { operator: op.email } }, el("td", {}, op.name), el("td", {}, op.email), el("td", {}, role), el("td", {}, capacity),
      el("td", {}, op.status), el("td", {}, op.active ? "active" : "deactivated"), el("td", { class: "row" }, save, toggle));
  });
  const name = el("input", { id: "new-name", required: true, maxlength: "200" });
  const email = el("input", { id: "new-email", type: "email", required: true });
  const role = el("select", { id: "new-role" }, el("option", { value: "operator" }, "operator"), el("option", { value: "admin" }, "admin"));
  const capacity = el("input", { id: "new-capacity", type: "number", min: "1", max: "100", value: "5" });
  const password = el("input", { id: "new-password", type: "password", autocomplete: "new-password" });
  const created = outcome();
  const form = el("form", { class: "card", id: "new-operator" }, el("h2", {}, "Add an operator"),
    el("div", { class: "row" }, field("Name", name), field("Email", email), field("Role", role), field("Capacity (chats at once)", capacity)),
    field("Password", password, "Leave empty to have one generated and shown once."), created,
    el("div", {}, el("button", { class: "button", type: "submit" }, "Add operator")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const body = { name: name.value.trim(), email: email.value.trim(), role: role.value, capacity: Number(capacity.value) };
      if (password.value) body.password = password.value;
      const answer = await api("POST", "/admin/operators", body);
      await show("operators");
      const note = $("#new-operator [role=status]");
      report(note, null, answer.password ? `${answer.operator.name} added. Their password (shown only now): ${answer.password}` : `${answer.operator.name} added.`);
    } catch (e) { report(created, e); }
  });
  return [el("h1", {}, "Operators"), el("table", { id: "operators" },
    el("thead", {}, el("tr", {}, ...["Name", "Email", "Role", "Capacity", "Status", "Account", ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows)), result, form];
}

// ---- the unread-reply email template ----
async function templatePane() {
  const template = await api("GET", "/admin/templates/unread-reply");
  const subject = el("input", { id: "tpl-subject", value: template.subject });
  const html = el("textarea", { id: "tpl-html", rows: 14, spellcheck: "false" }, template.html);
  const text = el("textarea", { id: "tpl-text", rows: 8, spellcheck: "false" }, template.text);
  const result = outcome();
  const shown = el("div", { class: "card", id: "tpl-preview", hidden: true });
  const sources = () => ({ subject: subject.value, html: html.value, text: text.value });
  const preview = async ({ quiet = false } = {}) => {
    try {
      const rendered = await api("POST", "/admin/templates/unread-reply/preview", sources());
      shown.replaceChildren(el("h2", {}, "Preview"), el("p", {}, el("strong", {}, "Subject: "), el("span", { id: "tpl-preview-subject" }, rendered.subject)),
        el("iframe", { class: "email", title: "HTML email preview", sandbox: "", srcdoc: rendered.html }), el("pre", { class: "text" }, rendered.text));
      shown.hidden = false;
      if (!quiet) report(result, null, "Rendered with sample data.");
    } catch (e) { shown.hidden = true; report(result, e); }
  };
  const form = el("form", { class: "card", id: "template-form" },
    el("p", { class: "muted" }, "Handlebars. Variables: {{tenant_name}}, {{visitor_name}}, {{operator_name}}, {{brand_color}}, {{resume_url}}, {{unsubscribe_url}}, {{#each replies}}{{this.body}}{{/each}}, {{#each earlier}}{{this.author}}: {{this.body}}{{/each}}."),
    field("Subject", subject), field("HTML body", html), field("Text body", text), result,
    el("div", { class: "row" },
      el("button", { class: "button button--quiet", type: "button", id: "tpl-preview-button", onclick: () => preview() }, "Preview"),
      el("button", { class: "button", type: "submit" }, "Save template"),
      template.custom ? el("button", { class: "button button--quiet", type: "button", onclick: async () => {
        if (!confirm("Go back to Tandem's default email?")) return;
        await api("DELETE", "/admin/templates/unread-reply"); show("template");
      } }, "Reset to default") : el("span", { class: "muted" }, "(Tandem's default)")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try { await api("PUT", "/admin/templates/unread-reply", sources()); report(result, null, "Saved: the next emails use it."); await preview({ quiet: true }); } catch (e) { report(result, e); }
  });
  return [el("h1", {}, "Unread-reply email"), form, shown];
}

// ---- plugins ----
async function pluginsPane() {
  const { plugins } = await api("GET", "/admin/plugins");
  const result = outcome();
  const logs = el("section", { class: "card", id: "plugin-logs", hidden: true });
  const patch = async (plugin, body) => { try { await api("PATCH", `/admin/plugins/${plugin.id}`, body); await show("plugins"); } catch (e) { report(result, e); } };
  const ordered = [...plugins].sort((a, b) => a.position - b.position);
  const rows = ordered.map((plugin, index) => el("tr", { dataset: { plugin: plugin.name } },
    el("td", {}, String(index + 1)),
    el("td", {}, el("strong", {}, plugin.name), el("div", { class: "muted" }, `v${plugin.version} · ${(plugin.size_bytes / 1024).toFixed(0)} KiB`)),
    el("td", {}, plugin.hooks.join(", ")),
    el("td", {}, el("label", { class: "row" }, el("input", { type: "checkbox", checked: plugin.enabled, onchange: (e) => patch(plugin, { enabled: e.target.checked }) }), plugin.enabled ? "enabled" : "disabled"),
      plugin.disabled_reason ? el("div", { class: "error" }, plugin.disabled_reason) : null,
      plugin.consecutive_failures ? el("div", { class: "muted" }, `${plugin.consecutive_failures} failures in a row`) : null),
    el("td", { class: "row" },
      el("button", { class: "button button--quiet", type: "button", disabled: index === 0, "aria-label": `Move ${plugin.name} up`, onclick: () => patch(plugin, { position: ordered[index - 1].position - 1 }) }, "↑"),
      el("button", { class: "button button--quiet", type: "button", disabled: index === ordered.length - 1, "aria-label": `Move ${plugin.name} down`, onclick: () => patch(plugin, { position: ordered[index + 1].position + 1 }) }, "↓"),
      el("button", { class: "button button--quiet logs", type: "button", onclick: () => showLogs(plugin, logs) }, "Logs"),
      el("button", { class: "button button--danger remove", type: "button", onclick: async () => {
        if (!confirm(`Remove ${plugin.name}?`)) return;
        try { await api("DELETE", `/admin/plugins/${plugin.id}`); await show("plugins"); } catch (e) { report(result, e); }
      } }, "Remove"))));
  const file = el("input", { id: "plugin-file", type: "file", accept: ".wasm,application/wasm", required: true });
  const name = el("input", { id: "plugin-name", placeholder: "from the file when empty" });
  const uploaded = outcome();
  const upload = el("form", { class: "card", id: "plugin-upload" }, el("h2", {}, "Upload a plugin"),
    el("div", { class: "row" }, field("WebAssembly component (.wasm)", file), field("Name", name)), uploaded,
    el("div", {}, el("button", { class: "button", type: "submit" }, "Upload")));
  upload.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    const pluginName = name.value.trim() || chosen.name.replace(/\.wasm$/, "");
    try {
      const plugin = await api("POST", `/admin/plugins?name=${encodeURIComponent(pluginName)}`, await chosen.arrayBuffer(), { raw: true, contentType: "application/wasm" });
      await show("plugins");
      report($("#plugin-upload [role=status]"), null, `${plugin.name} uploaded (hooks: ${plugin.hooks.join(", ") || "none"}).`);
    } catch (e) { report(uploaded, e instanceof ApiError ? e : new Error(e.message)); }
  });
  return [el("h1", {}, "Plugins"),
    el("p", { class: "muted" }, "Plugins run in order, first to last; a plugin that keeps failing is disabled automatically, with the reason shown here."),
    plugins.length ? el("table", { id: "plugins" }, el("thead", {}, el("tr", {}, ...["#", "Plugin", "Hooks", "State", ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows))
      : el("p", { class: "muted" }, "No plugins yet."), result, upload, logs];
}

async function showLogs(plugin, target) {
  const { lines: entries } = await api("GET", `/admin/plugins/${plugin.id}/logs?limit=200`);
  target.replaceChildren(el("h2", {}, `Log of ${plugin.name}`), entries.length
    ? el("table", {}, el("tbody", {}, ...entries.map((line) => el("tr", { class: "log-line" }, el("td", {}, clock(line.at)), el("td", {}, line.level), el("td", {}, line.hook || ""), el("td", {}, line.message)))))
    : el("p", { class: "muted" }, "Nothing logged yet."));
  target.hidden = false;
  target.scrollIntoView({ behavior: "smooth" });
}

// ---- the delivery log ----
async function deliveriesPane() {
  const { deliveries } = await api("GET", "/admin/notifications?limit=200");
  return [el("h1", {}, "Delivery log"),
    el("p", { class: "muted" }, "Every unread reply that went out (or could not), by channel, newest first."),
    deliveries.length ? el("table", { id: "deliveries" },
      el("thead", {}, el("tr", {}, ...["When", "Channel", "To", "Status", "Messages", "Reason"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...deliveries.map((d) => el("tr", {}, el("td", {}, clock(d.created_at)), el("td", {}, d.channel), el("td", {}, d.recipient || "—"),
        el("td", {}, d.status), el("td", {}, String(d.message_ids.length)), el("td", {}, d.reason || "")))))
      : el("p", { class: "muted" }, "Nothing delivered yet.")];
}

main().catch((e) => root.replaceChildren(el("p", { class: "error", role: "alert" }, `The console could not start: ${e.message}`)));
