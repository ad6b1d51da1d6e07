// Alerts for the operator: the alert bar (offline requests and long waits, as the server raises
// them), and, opt-in, a short tone and a desktop notification.
import { api, clock, el } from "./console.js";
import { state, ui } from "./app-state.js";

// The bar shows this many alerts; the rest are counted.
const SHOWN = 3;

export async function toggleAlerts(on) {
  state.alerts = on;
  localStorage.setItem("tandem:alerts", on ? "on" : "off");
  if (on && "Notification" in window && Notification.permission === "default") await Notification.requestPermission();
}

// A tone and a desktop notification (when the tab is hidden); clicking it opens `chatId`.
export function alertOperator(text, chatId) {
  if (!state.alerts) return;
  try {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.35);
  } catch { /* no audio here */ }
  if ("Notification" in window && Notification.permission === "granted" && document.visibilityState !== "visible") {
    const note = new Notification("Tandem", { body: text, tag: chatId ? `tandem-${chatId}` : "tandem" });
    if (chatId) note.onclick = () => { window.focus(); location.hash = `chat=${chatId}`; note.close(); };
  }
}

// What one alert says, in a line.
export function headline(alert) {
  const who = alert.visitor_name || "A visitor";
  if (alert.kind === "offline_request") return `${who} left an offline request`;
  const minutes = alert.wait_minutes;
  return minutes ? `${who} has waited ${minutes} minute${minutes === 1 ? "" : "s"} for an answer` : `${who} is waiting for an answer`;
}

// An alert the server raised: into the bar (newest first; one per chat), and sounded.
export function onAlert(alert) {
  keep([alert]);
  alertOperator(`${headline(alert)}: ${alert.preview.slice(0, 80)}`, alert.chat_id);
}

// The alerts still pending when the workspace opens (or reconnects): shown, not sounded.
export async function loadAlerts() {
  const { alerts } = await api("GET", "/alerts");
  keep(alerts);
}

function keep(alerts) {
  const byChat = new Map(state.alertFeed.map((a) => [a.chat_id, a]));
  for (const alert of alerts) {
    // Dismissed here, or its chat opened: only a newer alert of that chat shows again.
    if (dismissed.get(alert.chat_id) >= alert.created_at) continue;
    const known = byChat.get(alert.chat_id);
    if (!known || known.created_at <= alert.created_at) byChat.set(alert.chat_id, alert);
  }
  state.alertFeed = [...byChat.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
  renderAlertBar();
}

// chat id -> the newest alert of it that was dismissed (its created_at).
const dismissed = new Map();

// Opening a chat answers its alert.
export function dismissAlerts(chatId) {
  const newest = state.alertFeed.find((a) => a.chat_id === chatId);
  if (newest) dismissed.set(chatId, newest.created_at);
  const before = state.alertFeed.length;
  state.alertFeed = state.alertFeed.filter((a) => a.chat_id !== chatId);
  if (state.alertFeed.length !== before) renderAlertBar();
}

export function renderAlertBar() {
  const feed = state.alertFeed;
  ui.alertBar.hidden = feed.length === 0;
  const rows = feed.slice(0, SHOWN).map((alert) => el("li", { class: `alert-row alert-row--${alert.kind}`, dataset: { chatId: alert.chat_id } },
    el("span", { class: "alert-row__badge" }, alert.kind === "offline_request" ? "Offline request" : "Waiting"),
    el("span", { class: "alert-row__text" },
      el("strong", {}, headline(alert)), " ",
      el("span", { class: "muted alert-row__preview" }, `${clock(alert.created_at)} · “${alert.preview.slice(0, 120)}”`)),
    el("a", { class: "button", href: `#chat=${alert.chat_id}` }, "Open"),
    el("button", { class: "link", type: "button", "aria-label": `Dismiss: ${headline(alert)}`, onclick: () => dismissAlerts(alert.chat_id) }, "Dismiss")));
  const more = feed.length > SHOWN ? el("li", { class: "muted alert-row__more" }, `and ${feed.length - SHOWN} more`) : null;
  ui.alertBar.replaceChildren(...rows, ...(more ? [more] : []));
}
