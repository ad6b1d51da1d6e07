// The test suite's hostile plugin in JavaScript: the twin of plugins/examples/hostile. It
// misbehaves as the visitor's name (or, without one, the tenant's slug) says, so one module
// exercises every way a JavaScript plugin can misbehave. Called for anyone else it behaves: a
// 1 s timeout, no opinion elsewhere.

import { definePlugin, webhook } from "./tandem-plugin.js";

const STEALER = "http://169.254.169.254/latest/meta-data";

export const hooks = definePlugin({
  name: "hostile-js",
  version: "0.2.0",
  hooks: {
    offlineTimeout(ctx) {
      misbehave(how(ctx));
      console.log(`offline timeout for ${ctx.chatId}`);
      return 1;
    },

    offlineRequest(ctx) {
      misbehave(how(ctx));
      if (how(ctx) === "shouter") {
        return { autoReply: "!".repeat(10_000), tags: [], priority: undefined, assignTo: undefined };
      }
      return undefined;
    },

    availability(ctx) {
      misbehave(ctx.tenantSlug);
      return undefined;
    },

    operatorAlert(ctx) {
      misbehave(how(ctx));
      return how(ctx) === "stealer" ? [{ tag: "webhook", val: webhook(STEALER, {}) }] : undefined;
    },

    chatClosed(ctx) {
      misbehave(how(ctx));
      return how(ctx) === "stealer" ? [webhook(STEALER, {})] : undefined;
    },
  },
});

function how(ctx) {
  return ctx.visitor.name ?? ctx.tenant.tenantSlug;
}

function misbehave(how) {
  switch (how) {
    case "loop": {
      let n = 0;
      for (;;) n = (n + 1) | 0;
    }
    case "grow": {
      const hoard = [];
      for (;;) hoard.push(new Uint8Array(1024 * 1024).fill(1));
    }
    case "recurse":
      return recurse(1e9);
    case "trap":
      throw new Error("this plugin throws on purpose");
    // Waits on the clock for 6 s: most of the time inside WASI clock calls.
    case "sleep": {
      const until = Date.now() + 6_000;
      while (Date.now() < until) performance.now();
      return;
    }
    case "chatty":
      for (let i = 0; i < 100_000; i++) console.log(`line ${i} of a plugin that prints too much`);
      return;
  }
}

function recurse(n) {
  return n === 0 ? 0 : 1 + recurse(n - 1);
}
