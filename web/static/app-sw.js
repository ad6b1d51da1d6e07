// The workspace's service worker (served at /app-sw.js, scope /app): it shows the alerts the
// server pushes to this browser while the workspace is closed, and opens the chat on a click.
self.addEventListener("push", (event) => {
  let alert = null;
  try { alert = event.data?.json(); } catch { /* not one of ours */ }
  if (alert && typeof alert.chat === "string") event.waitUntil(show(alert));
});

// Always shown, even with the workspace in front (browsers drop a subscription whose pushes
// show nothing); the same tag as the workspace's own desktop notification, so one replaces the
// other.
async function show(alert) {
  await self.registration.showNotification(String(alert.title || "Tandem"), {
    body: String(alert.body || ""),
    tag: `tandem-${alert.chat}`,
    renotify: true,
    data: { chat: alert.chat },
  });
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const chat = event.notification.data?.chat;
  const url = new URL(chat ? `/app#chat=${encodeURIComponent(chat)}` : "/app", self.location.origin);
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const workspace = windows.find((w) => new URL(w.url).pathname === "/app");
    if (!workspace) return self.clients.openWindow(url.href);
    await workspace.focus();
    workspace.postMessage({ open: chat });
  })());
});

// The browser renewed the subscription: tell the server, as the operator signed in here (the
// session cookie goes along), so alerts keep coming.
self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil((async () => {
    const subscription = event.newSubscription
      || await self.registration.pushManager.subscribe(event.oldSubscription?.options || { userVisibleOnly: true });
    await fetch("/api/v1/push/subscriptions", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(subscription.toJSON()),
    });
  })());
});
