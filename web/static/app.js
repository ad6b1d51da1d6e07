// The operator workspace: the queue and the chats in their categories, live, and the dialog.
import { $, api, el, liveSocket, signIn, signOut } from "./console.js";
import { optOutBeforeSigningOut, pushToggle } from "./app-push.js";
import { loadAlerts, toggleAlerts } from "./app-alerts.js";
import { loadCanned } from "./app-canned.js";
import { tickContext } from "./app-context.js";
import { helpButton, listenForKeys } from "./app-keys.js";
import { acceptDrops, markRead, openChat, refreshChat } from "./app-dialog.js";
import { flushOutbox, restoreOutbox } from "./app-outbox.js";
import { searchBox } from "./app-search.js";
import { avatarOf, photoControl } from "./console-photo.js";
import { onFrame } from "./app-events.js";
import { renderLists } from "./app-lists.js";
import { CATEGORIES, fetchMark, listsFetched, state, ui } from "./app-state.js";

const root = $("#root");

async function main() {
  state.me = await signIn(root, "Tandem — operator workspace");
  buildLayout();
  await loadOperators();
  await loadChats();
  restoreOutbox();
  listenForKeys();
  state.socket = liveSocket("/ws", {
    onFrame,
    onOpen: () => { ui.connection.textContent = ""; loadChats().then(refreshChat); loadAlerts(); loadCanned(); flushOutbox(); },
    onClose: () => { ui.connection.textContent = "Reconnecting…"; },
  });
  setInterval(() => { renderLists(); tickContext(); }, 30000); // waiting times, local time
  document.addEventListener("visibilitychange", markRead);
  // The alerts menu closes on a click elsewhere, as menus do.
  document.addEventListener("click", (event) => {
    const menu = document.querySelector("#alert-menu");
    if (menu?.open && !menu.contains(event.target)) menu.open = false;
  });
  // `#chat=<id>`: the links in alert mails, webhooks and notifications open that dialog.
  window.addEventListener("hashchange", openLinkedChat);
  openLinkedChat();
}

// Chat ids are UUIDs; anything else in a link is not one of ours.
const CHAT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function openLinkedChat() {
  const id = new URLSearchParams(location.hash.slice(1)).get("chat");
  if (!id) return;
  history.replaceState(null, "", location.pathname + location.search);
  if (!CHAT_ID.test(id)) return;
  try {
    await openChat(id);
    const chat = state.chats.get(id);
    const tab = CATEGORIES.find((c) => c.match(chat));
    if (tab) { state.tab = tab.id; state.pinnedTab = tab.id; renderLists(); }
  } catch (e) {
    ui.dialog.replaceChildren(el("p", { class: "error", role: "alert" }, `That chat could not be opened: ${e.message}`));
  }
}

function buildLayout() {
  const status = el("select", { id: "my-status", "aria-label": "My status", onchange: () => setStatus(status.value) },
    ...["online", "away", "offline"].map((s) => el("option", { value: s, selected: state.me.status === s }, s[0].toUpperCase() + s.slice(1))));
  const alerts = el("input", { type: "checkbox", id: "alerts", checked: state.alerts, onchange: () => toggleAlerts(alerts.checked) });
  const digests = el("input", { type: "checkbox", id: "alert-digests", checked: state.me.alert_digests !== false, onchange: () => chooseDigests(digests) });
  ui.connection = el("span", { role: "status", class: "muted" });
  ui.tabs = el("div", { class: "tabs", role: "tablist", "aria-label": "Chat categories" });
  ui.list = el("ul", { class: "chats", id: "chat-list", "aria-label": "Chats" });
  ui.empty = el("li", { class: "empty" }, "No chats here.");
  ui.dialog = el("section", { class: "dialog", "aria-label": "Dialog" }, el("p", { class: "placeholder" }, "Choose a chat."));
  acceptDrops(ui.dialog);
  ui.alertBar = el("ul", { class: "alert-bar", id: "alert-bar", role: "log", "aria-live": "assertive", "aria-label": "Alerts", hidden: true });
  root.replaceChildren(
    el("header", { class: "top" },
      el("span", { class: "top__brand" }, "Tandem"), el("span", {}, "Workspace"), ui.connection,
      el("span", { class: "top__spacer" }),
      // Offline requests and long waits: how this operator hears of them.
      el("details", { class: "menu", id: "alert-menu" },
        el("summary", { class: "button button--quiet" }, "Alerts"),
        el("div", { class: "menu__panel" },
          el("label", {}, alerts, "Sound & desktop alerts in this tab"),
          el("label", { title: "At most one mail an interval, while you are not online" }, digests, "Email digests when away"),
          pushToggle())),
      helpButton(),
      profileMenu(),
      el("label", {}, el("span", {}, state.me.name), status),
      state.me.role === "admin" ? el("a", { href: "/admin" }, "Admin console") : null,
      el("button", { class: "button button--quiet", type: "button", onclick: () => optOutBeforeSigningOut().finally(signOut) }, "Log out")),
    ui.alertBar,
    el("div", { class: "workspace" }, el("nav", { class: "queues", "aria-label": "Queues" }, searchBox(), ui.tabs, ui.list, ui.results), ui.dialog));
}

// My photo, as visitors see it beside my replies (my initials without one).
function profileMenu() {
  const summary = el("summary", { class: "button button--quiet", "aria-label": "My photo" });
  const face = el("span", { class: "profile__photo" });
  const note = el("p", { role: "status", "aria-live": "polite" });
  const draw = (me) => {
    state.me = { ...state.me, ...me };
    state.operators.set(state.me.id, { ...state.operators.get(state.me.id), ...me });
    summary.replaceChildren(avatarOf(state.me, 22));
    face.replaceChildren(avatarOf(state.me, 48), photoControl(state.me, draw, (e, text) => { note.className = e ? "error" : "ok"; note.textContent = e ? e.message : text; }));
  };
  draw(state.me);
  return el("details", { class: "menu", id: "profile-menu" }, summary,
    el("div", { class: "menu__panel profile__panel" }, el("strong", {}, "Your photo"),
      el("p", { class: "muted" }, "Visitors see it beside your replies and in the chat's header."), face, note));
}

// My own choice of alert digests by email; the box shows what the server keeps.
async function chooseDigests(box) {
  try {
    state.me = await api("PUT", "/operators/me/alert-digests", { enabled: box.checked });
  } catch (e) {
    box.checked = !box.checked;
    alert(e.message);
  }
}

async function setStatus(status) {
  try { await api("PUT", "/operators/me/status", { status }); state.me.status = status; } catch (e) { alert(e.message); }
}

async function loadOperators() {
  const { operators } = await api("GET", "/operators");
  for (const operator of operators) state.operators.set(operator.id, operator);
}

async function loadChats() {
  const mark = fetchMark();
  const lists = await Promise.all(["waiting", "offline", "active", "closed"].map((category) => api("GET", `/chats?category=${category}`)));
  listsFetched(lists.flatMap((list) => list.chats), mark);
  renderLists();
}

main().catch((e) => root.replaceChildren(el("p", { class: "error", role: "alert" }, `The workspace could not start: ${e.message}`)));
