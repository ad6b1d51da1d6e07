// Admin console: the tenant's wasm plugins — upload, enable, order, remove, their logs.
import { $, ApiError, api, clock, el } from "./console.js";
import { field, outcome, report } from "./admin-forms.js";
import { settingsCard } from "./admin-plugin-settings.js";
import { trialCard } from "./admin-plugin-trial.js";

// After a save the pane is drawn again: the settings just saved stay open, with the outcome.
let reopen = null;

export async function pluginsPane(ctx) {
  const { plugins } = await api("GET", "/admin/plugins");
  const result = outcome();
  const logs = el("section", { class: "card", id: "plugin-logs", hidden: true });
  const settings = el("div", { id: "plugin-settings-place" });
  const trial = el("div", { id: "plugin-trial-place" });
  const openTrial = (plugin) => {
    trial.replaceChildren(trialCard(plugin));
    trial.scrollIntoView({ behavior: "smooth" });
    trial.querySelector("button")?.focus();
  };
  const openSettings = (plugin, note) => {
    const saved = async () => {
      reopen = { id: plugin.id, note: "Settings saved; the plugin uses them from its next call." };
      await ctx.reload();
    };
    settings.replaceChildren(settingsCard(plugin, saved, note));
    settings.scrollIntoView({ behavior: "smooth" });
    if (!note) settings.querySelector("input, select, textarea")?.focus();
  };
  const patch = async (plugin, body) => { try { await api("PATCH", `/admin/plugins/${plugin.id}`, body); await ctx.reload(); } catch (e) { report(result, e); } };
  const ordered = [...plugins].sort((a, b) => a.position - b.position);
  const rows = ordered.map((plugin, index) => el("tr", { dataset: { plugin: plugin.name } },
    el("td", {}, String(index + 1)),
    el("td", {}, el("strong", {}, plugin.name), el("div", { class: "muted" }, `v${plugin.version} · world ${plugin.world} · ${(plugin.size_bytes / 1024).toFixed(0)} KiB`)),
    el("td", {}, plugin.hooks.join(", ")),
    el("td", {}, el("label", { class: "row" }, el("input", { type: "checkbox", checked: plugin.enabled, onchange: (e) => patch(plugin, { enabled: e.target.checked }) }), plugin.enabled ? "enabled" : "disabled"),
      plugin.disabled_reason ? el("div", { class: "error" }, plugin.disabled_reason) : null,
      plugin.consecutive_failures ? el("div", { class: "muted" }, `${plugin.consecutive_failures} failures in a row`) : null),
    el("td", { class: "row" },
      el("button", { class: "button button--quiet", type: "button", disabled: index === 0, "aria-label": `Move ${plugin.name} up`, onclick: () => patch(plugin, { position: ordered[index - 1].position - 1 }) }, "↑"),
      el("button", { class: "button button--quiet", type: "button", disabled: index === ordered.length - 1, "aria-label": `Move ${plugin.name} down`, onclick: () => patch(plugin, { position: ordered[index + 1].position + 1 }) }, "↓"),
      plugin.settings_schema ? el("button", { class: "button button--quiet settings", type: "button", onclick: () => openSettings(plugin) }, "Settings") : null,
      el("button", { class: "button button--quiet try", type: "button", onclick: () => openTrial(plugin) }, "Try"),
      el("button", { class: "button button--quiet logs", type: "button", onclick: () => showLogs(plugin, logs) }, "Logs"),
      el("button", { class: "button button--danger remove", type: "button", onclick: async () => {
        if (!confirm(`Remove ${plugin.name}?`)) return;
        try { await api("DELETE", `/admin/plugins/${plugin.id}`); await ctx.reload(); } catch (e) { report(result, e); }
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
    const send = upload.querySelector("button[type=submit]");
    send.disabled = true;
    // The server checks and compiles the plugin before it answers: a JavaScript one takes seconds.
    uploaded.className = "muted";
    uploaded.textContent = `Checking and compiling ${pluginName}… (a JavaScript plugin takes a few seconds)`;
    try {
      const plugin = await api("POST", `/admin/plugins?name=${encodeURIComponent(pluginName)}`, await chosen.arrayBuffer(), { raw: true, contentType: "application/wasm" });
      await ctx.reload();
      const waiting = plugin.enabled ? "" : ` It waits for its settings: ${plugin.disabled_reason}`;
      report($("#plugin-upload [role=status]"), null, `${plugin.name} uploaded (hooks: ${plugin.hooks.join(", ") || "none"}).${waiting}`);
    } catch (e) {
      report(uploaded, e instanceof ApiError ? e : new Error(e.message));
    } finally {
      send.disabled = false;
    }
  });
  const again = reopen && plugins.find((p) => p.id === reopen.id && p.settings_schema);
  if (again) openSettings(again, reopen.note);
  reopen = null;
  return [el("h1", {}, "Plugins"),
    el("p", { class: "muted" }, "Plugins run in order, first to last; a plugin that keeps failing is disabled automatically, with the reason shown here. Try one on your recent cases before you enable it."),
    plugins.length ? el("table", { id: "plugins" }, el("thead", {}, el("tr", {}, ...["#", "Plugin", "Hooks", "State", ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows))
      : el("p", { class: "muted" }, "No plugins yet."), result, settings, trial, upload, logs];
}

async function showLogs(plugin, target) {
  const { lines: entries } = await api("GET", `/admin/plugins/${plugin.id}/logs?limit=200`);
  target.replaceChildren(el("h2", {}, `Log of ${plugin.name}`), entries.length
    ? el("table", {}, el("tbody", {}, ...entries.map((line) => el("tr", { class: "log-line" }, el("td", {}, clock(line.at)), el("td", {}, line.level), el("td", {}, line.hook || ""), el("td", {}, line.message)))))
    : el("p", { class: "muted" }, "Nothing logged yet."));
  target.hidden = false;
  target.scrollIntoView({ behavior: "smooth" });
}
