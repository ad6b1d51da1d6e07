// The Tandem plugin SDK for JavaScript, world tandem:plugin@0.2.0.
//
// A plugin is an ES module that exports `hooks`, made by `definePlugin`: write only the hooks
// you need, and `describe()` lists them by itself. componentize-js turns the module into a
// WebAssembly component against the world's WIT (see the scaffold's package.json).
//
// How WIT values look in JavaScript (componentize-js's conventions):
// - records are objects with camelCase fields: `ctx.tenant.webhookUrls`, `ctx.visitor.hasEmail`;
// - an `option` is the value or `undefined`; returning `undefined` from a hook means "no opinion";
// - an `enum` is its case as a string: `"offline-form"`, `"high"`;
// - a `variant` is `{ tag, val }`: `{ tag: "long-wait", val: 12 }`; the helpers below build them;
// - `s64` numbers (`nowMs`, `sentAtMs`, `openedAtMs`, …) are BigInts: `Number(ctx.tenant.nowMs)`.
//
// What a hook prints with console.log goes to the plugin's log in the admin console. A hook that
// throws counts as a failure of the plugin: Tandem does what it does without plugins.

/** The hooks of world 0.2.0: their JavaScript names and their names in the manifest. */
const HOOKS = {
  offlineTimeout: "offline-timeout",
  emailTemplate: "email-template",
  routeNotification: "route-notification",
  offlineRequest: "offline-request",
  availability: "availability",
  operatorAlert: "operator-alert",
  chatClosed: "chat-closed",
};

/**
 * The `hooks` export of a plugin.
 *
 * @param {object} plugin
 * @param {string} plugin.name the plugin's name, as the admin console shows it
 * @param {string} plugin.version its version
 * @param {object} [plugin.settingsSchema] its settings as a JSON Schema (an object schema)
 * @param {object} plugin.hooks the hooks it implements, by their JavaScript names
 */
export function definePlugin({ name, version, settingsSchema, hooks = {} }) {
  // Mistakes here throw while the plugin is built, so `npm run build` names them.
  if (typeof name !== "string" || typeof version !== "string") {
    throw new Error("definePlugin needs a name and a version, both strings");
  }
  const unknown = Object.keys(hooks).filter((hook) => !Object.hasOwn(HOOKS, hook));
  if (unknown.length > 0) {
    throw new Error(
      `definePlugin: no hook is called ${unknown.join(", ")}; ` +
        `the hooks are ${Object.keys(HOOKS).join(", ")}`,
    );
  }
  const notFunctions = Object.keys(hooks).filter((hook) => typeof hooks[hook] !== "function");
  if (notFunctions.length > 0) {
    throw new Error(`definePlugin: each hook must be a function, not ${notFunctions.join(", ")}`);
  }
  const implemented = Object.keys(hooks)
    .map((hook) => HOOKS[hook])
    .sort();
  const schema = settingsSchema === undefined ? undefined : JSON.stringify(settingsSchema);
  const exported = {
    describe: () => ({ name, version, hooks: implemented, settingsSchema: schema }),
  };
  for (const hook of Object.keys(HOOKS)) {
    // The world exports every hook; the host calls only those the manifest lists.
    exported[hook] = Object.hasOwn(hooks, hook) ? answering(hook, hooks) : () => undefined;
  }
  return exported;
}

/** Calls the plugin's own hook; `null` means no opinion too, and a promise is a mistake. */
function answering(hook, hooks) {
  return (...args) => {
    const answer = hooks[hook].apply(hooks, args);
    if (answer !== null && typeof answer?.then === "function") {
      throw new Error(`${hook} returned a promise: hooks answer at once, they cannot be async`);
    }
    return answer ?? undefined;
  };
}

/** The plugin's settings, as the admin saved them (its schema's defaults until then). */
export function settings(ctx) {
  return JSON.parse((ctx.tenant ?? ctx).settings);
}

/** A webhook: `body` is posted as JSON (an object is serialized, a string is sent as it is). */
export function webhook(url, body) {
  return { url, body: typeof body === "string" ? body : JSON.stringify(body) };
}

/** Where a batch of unread replies goes (`routeNotification`). */
export const Delivery = {
  /** The rendered email, to the visitor's own address. */
  email: () => ({ tag: "email", val: undefined }),
  webhook: (url, body) => ({ tag: "webhook", val: webhook(url, body) }),
  /** Nothing through this route; the reason goes to the delivery log. */
  skip: (reason) => ({ tag: "skip", val: reason }),
};

/** Where an alert for the operators goes (`operatorAlert`). */
export const AlertRoute = {
  /** Tandem's own alert: the workspace, and email for operators not online. */
  operators: () => ({ tag: "operators", val: undefined }),
  webhook: (url, body) => ({ tag: "webhook", val: webhook(url, body) }),
  skip: (reason) => ({ tag: "skip", val: reason }),
};
