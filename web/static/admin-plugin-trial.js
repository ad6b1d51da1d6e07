// Admin console: try a plugin (enabled or not) on the tenant's recent real cases and see what it
// would have answered, what Tandem would have done with that and how long it took. Nothing is
// acted on: no message, mail, webhook, log line or failure count.
import { api, clock, el } from "./console.js";
import { outcome, report } from "./admin-forms.js";

const OUTCOMES = {
  answered: ["Answered", "ok"],
  no_opinion: ["No opinion", "muted"],
  refused: ["Would be refused", "error"],
  failed: ["Failed", "error"],
  not_run: ["Not run", "muted"],
};

const ms = (value) => (value < 10 ? value.toFixed(2) : value.toFixed(0));

export function trialCard(plugin) {
  const status = outcome();
  const results = el("div", { class: "trial-results" });
  const run = el("button", { class: "button", type: "button" }, "Run the trial");
  const card = el("section", { class: "card", id: "plugin-trial", dataset: { plugin: plugin.name } },
    el("h2", {}, `Try ${plugin.name} on recent cases`),
    el("p", { class: "muted" }, `Runs ${plugin.name}${plugin.enabled ? "" : " (disabled: it stays so)"} with its saved settings on the last offline requests, delivered unread replies and closed chats, and on the widget now. Nothing is sent, changed, logged or counted against it.`),
    el("div", {}, run), status, results);
  run.addEventListener("click", async () => {
    run.disabled = true;
    status.className = "muted";
    status.textContent = "Running…";
    results.replaceChildren();
    try {
      const trial = await api("POST", `/admin/plugins/${plugin.id}/trial`);
      results.replaceChildren(...drawn(trial));
      const failures = trial.runs.filter((r) => r.outcome === "failed" || r.outcome === "refused").length;
      report(status, null, `${trial.runs.length} call${trial.runs.length === 1 ? "" : "s"}, ${failures ? `${failures} that would count as failures` : "no failures"}.`);
      if (failures) status.className = "error";
    } catch (e) {
      report(status, e);
    } finally {
      run.disabled = false;
    }
  });
  return card;
}

function drawn(trial) {
  const parts = [];
  if (trial.runs.length) {
    parts.push(el("table", { id: "trial-runs" },
      el("thead", {}, el("tr", {}, ...["When", "Hook", "Case", "Outcome", "What Tandem would do", "Time"].map((h) => el("th", {}, h)))),
      el("tbody", {}, trial.runs.map(row))));
  }
  if (trial.untried.length) {
    parts.push(el("ul", { class: "muted", id: "trial-untried" },
      trial.untried.map((u) => el("li", {}, `${u.hook}: not tried — ${u.reason}.`))));
  }
  if (!parts.length) parts.push(el("p", { class: "muted" }, "Nothing to try it on."));
  return parts;
}

function row(run) {
  const [label, tone] = OUTCOMES[run.outcome] || [run.outcome, ""];
  const time = run.outcome === "not_run" ? "" : `${ms(run.elapsed_ms)} ms`;
  const instantiation = run.instantiation_ms == null ? null : el("div", { class: "muted" }, `of which starting it ${ms(run.instantiation_ms)} ms`);
  return el("tr", { class: "trial-run", dataset: { hook: run.hook, outcome: run.outcome } },
    el("td", {}, clock(run.at)),
    el("td", {}, run.hook),
    el("td", {}, run.case),
    el("td", { class: tone }, label),
    el("td", {}, run.effect, details(run)),
    el("td", {}, time, instantiation));
}

// What the plugin was given, answered and printed; the input is what `tandem plugin run --input`
// takes, to replay the case offline.
function details(run) {
  if (!run.input) return null;
  const block = (title, value) => [el("div", { class: "muted" }, title), el("pre", { class: "text trial-json" }, value)];
  return el("details", {}, el("summary", {}, "Input and answer"),
    block("Answer", run.answer == null ? "none (no opinion)" : JSON.stringify(run.answer, null, 2)),
    run.output ? block("Printed", run.output) : null,
    block("Input (for tandem plugin run --input)", JSON.stringify(run.input, null, 2)));
}
