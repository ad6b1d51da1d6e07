// Beside the dialog: who the visitor is — the page they are on and the pages of this visit,
// where they came from, browser and system, their local time, visits, their address, how they
// rated their conversations and the transcripts they asked for. Live:
// `visitor.context` frames replace it as the visitor moves through the site.
import { api, clock, el } from "./console.js";
import { state, ui } from "./app-state.js";

const OPEN_KEY = "tandem:context-open";
const TRANSCRIPT = { pending: "on its way", sending: "on its way", sent: "sent", failed: "could not be sent" };

export function showContext(context) {
  state.context = context;
  renderContext();
}

export function renderContext() {
  const context = state.context;
  if (!ui.context) return;
  if (!context) { ui.context.hidden = true; return; }
  ui.context.hidden = false;
  const open = localStorage.getItem(OPEN_KEY) !== "closed";
  const now = context.current_page;
  const summary = el("summary", {},
    now ? el("span", {}, "On ", pageLink(now)) : el("span", {}, context.online ? "On the site" : `Last seen ${clock(context.last_seen_at)}`),
    agent(context) ? el("span", { class: "muted" }, ` · ${agent(context)}`) : "",
    localTime(context) ? el("span", { class: "muted", id: "context-local-time" }, ` · ${localTime(context)} local`) : "");
  const facts = [
    ["Pages this visit", context.pages.length ? el("ol", { class: "context__pages" }, ...context.pages.map((p) => el("li", {}, el("time", { datetime: p.at }, clock(p.at)), " ", pageLink(p)))) : "none reported"],
    ["Came from", context.referrer ? pageLink({ url: context.referrer }) : "direct, or not told"],
    ["Browser", [context.browser, context.os, context.device].filter(Boolean).join(" · ") || "not known"],
    ["Local time", localTime(context) ? `${localTime(context)} (${context.time_zone})` : "not known"],
    ["Visits", `${context.visits} · first seen ${clock(context.first_seen_at)}`],
    ["Email", context.email ? `${context.email} · ${context.email_confirmed ? "confirmed" : "not confirmed"}` : "none given"],
    ["Ratings", (context.ratings || []).length
      ? el("ul", { class: "context__ratings", id: "context-ratings" }, ...context.ratings.map((r) => el("li", {},
        el("strong", { class: `rating--${r.rating}` }, r.rating === "good" ? "Good" : "Bad"), ` ${clock(r.rated_at)}`,
        r.comment ? el("q", {}, r.comment) : null)))
      : "none yet"],
    ["Transcripts", (context.transcripts || []).length
      ? el("ul", { class: "context__ratings", id: "context-transcripts" }, ...context.transcripts.map((t) => el("li", {},
        `${clock(t.requested_at)} to ${t.email} · ${TRANSCRIPT[t.status] || t.status}`)))
      : "none asked for"],
  ];
  const details = el("details", { class: "context", id: "visitor-context", open, ontoggle: (e) => localStorage.setItem(OPEN_KEY, e.target.open ? "open" : "closed") },
    summary,
    el("dl", {}, ...facts.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)])),
    state.me?.role === "admin" ? el("div", { class: "context__data" }, exportButton(context), eraseButton(context)) : null);
  ui.context.replaceChildren(details);
}

// An admin exports what is about this visitor (a request for access to their data); the archive is
// prepared in the background and downloaded from the admin console.
function exportButton(context) {
  const status = el("p", { role: "status" });
  const button = el("button", { class: "button button--quiet", type: "button", id: "export-visitor" }, "Export this visitor's data");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("POST", "/admin/exports", { visitor_id: context.visitor_id });
      status.replaceChildren("Being prepared: download it from ", el("a", { href: "/admin#export" }, "Admin → Data export"), ".");
    } catch (e) { status.textContent = e.message; status.className = "error"; }
    button.disabled = false;
  });
  return el("div", { class: "context__export" }, button, status);
}

// An admin erases the visitor's data on their request: texts, files, name, email, pages and
// links go for good; the dialog stays as an empty skeleton.
function eraseButton(context) {
  const status = el("p", { role: "status" });
  const button = el("button", { class: "button button--danger", type: "button", id: "erase-visitor" }, "Erase this visitor's data…");
  button.addEventListener("click", async () => {
    if (!confirm("Erase everything this visitor wrote and told us — every message of their dialogs, files, name, email, pages, links? This cannot be undone.")) return;
    button.disabled = true;
    try {
      const erased = await api("POST", `/admin/visitors/${context.visitor_id}/erase`);
      status.textContent = `Erased: ${erased.messages} messages, ${erased.files} files.`;
      // What is on screen (the dialog, alerts, lists) still holds what was erased: start afresh.
      setTimeout(() => location.reload(), 1200);
    } catch (e) { status.textContent = e.message; status.className = "error"; button.disabled = false; }
  });
  return el("div", { class: "context__erase" }, button, status);
}

// The local time shown, kept right without redrawing the panel (focus and scroll stay).
export function tickContext() {
  const shown = document.querySelector("#context-local-time");
  if (shown && state.context) shown.textContent = ` · ${localTime(state.context)} local`;
}

// A visitor's address, as the server checked it (http or https only), opened elsewhere. The
// title is the visitor's to choose: the host beside it is where the link goes.
function pageLink(page) {
  const host = (() => { try { return new URL(page.url).host; } catch { return ""; } })();
  const label = page.title ? `${page.title} (${host})` : shortUrl(page.url);
  if (!/^https?:\/\//i.test(page.url)) return el("span", {}, label);
  return el("a", { href: page.url, target: "_blank", rel: "noopener noreferrer", title: page.url, class: "context__page" }, label);
}

function shortUrl(url) {
  try { const u = new URL(url); return `${u.host}${u.pathname}${u.search}`; } catch { return url; }
}

function agent(context) {
  return [context.browser, context.os && context.os !== "unknown" ? `on ${context.os}` : null].filter(Boolean).join(" ");
}

function localTime(context) {
  if (!context.time_zone) return "";
  try {
    return new Intl.DateTimeFormat([], { timeZone: context.time_zone, hour: "2-digit", minute: "2-digit" }).format(new Date());
  } catch {
    return "";
  }
}
