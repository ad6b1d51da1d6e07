// Web Push on this browser: the operator opts in here (per browser), and alerts then reach it
// while the workspace is closed; the service worker (app-sw.js) shows them.
import { api, el } from "./console.js";

const SCOPE = "/app";
const supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
// The installation's VAPID key, as bytes.
let serverKey = null;

// The header's "Push to this browser" box, or nothing where the browser cannot do it.
export function pushToggle() {
  if (!supported) return null;
  const box = el("input", { type: "checkbox", id: "push-alerts", disabled: true });
  const label = el("label", { title: "Offline requests and long waits reach this browser even when the workspace is closed" }, box, "Push to this browser");
  box.addEventListener("change", async () => {
    box.disabled = true;
    try {
      if (box.checked) await optIn(); else await optOut();
    } catch (e) {
      box.checked = !box.checked;
      alert(box.checked ? `Push could not be turned off: ${e.message}` : `Push could not be turned on: ${e.message}`);
    } finally {
      box.disabled = false;
    }
  });
  mine().then((found) => { box.checked = Boolean(found); }).catch(() => {}).finally(() => { box.disabled = false; });
  // Fetched now, so that subscribing follows the click closely (Safari wants it in the gesture).
  serverKey = api("GET", "/push/key").then(({ public_key }) => bytes(public_key));
  serverKey.catch(() => {});
  // The service worker asks an open workspace to show a chat whose notification was clicked.
  navigator.serviceWorker.addEventListener("message", (event) => {
    const chat = event.data?.open;
    if (typeof chat === "string") location.hash = `chat=${chat}`;
  });
  return label;
}

// This browser's subscription as the server knows it, if it is this operator's.
async function mine() {
  const registration = await navigator.serviceWorker.getRegistration(SCOPE);
  const subscription = await registration?.pushManager.getSubscription();
  if (!subscription) return null;
  const { subscriptions } = await api("GET", "/push/subscriptions");
  return subscriptions.find((s) => s.endpoint === subscription.endpoint) || null;
}

async function optIn() {
  if (await Notification.requestPermission() !== "granted") {
    throw new Error("notifications are blocked for this site in the browser's settings");
  }
  const registration = await navigator.serviceWorker.register("/app-sw.js", { scope: SCOPE });
  await navigator.serviceWorker.ready;
  const key = await serverKey;
  let subscription = await registration.pushManager.getSubscription();
  // Subscribed with another server's key (a reinstalled server): subscribe afresh.
  if (subscription && !same(subscription.options.applicationServerKey, key)) {
    await subscription.unsubscribe();
    subscription = null;
  }
  subscription ||= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  await api("POST", "/push/subscriptions", subscription.toJSON());
}

async function optOut() {
  const registration = await navigator.serviceWorker.getRegistration(SCOPE);
  const subscription = await registration?.pushManager.getSubscription();
  if (!subscription) return;
  try {
    const known = await mine();
    if (known) await api("DELETE", `/push/subscriptions/${known.id}`);
  } finally {
    // Whatever the server said (a session gone, no network), this browser stops listening.
    await subscription.unsubscribe();
  }
}

// Logging out stops pushes to this browser: the next person at it is not told of the chats.
export async function optOutBeforeSigningOut() {
  if (supported) await optOut().catch(() => {});
}

function bytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

function same(buffer, key) {
  if (!buffer) return false;
  const a = new Uint8Array(buffer);
  return a.length === key.length && a.every((byte, i) => byte === key[i]);
}
