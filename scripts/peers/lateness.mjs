// The peers of Tandem's unread-reply lateness benchmark: the same load (N jobs due at times
// spread evenly over a window, after a lead in which they are all queued) on graphile-worker
// (PostgreSQL) or BullMQ (Redis), one worker process, each job's handler empty. A job's lateness
// is when its handler finished minus when it was due, as Tandem's is its outbox row's
// `processed_at - due_at`.
//
//   node lateness.mjs graphile --jobs 10000 --spread-secs 60 --lead-secs 10 \
//     --postgres postgres://postgres@127.0.0.1:5432/test
//   node lateness.mjs bullmq --jobs 10000 --spread-secs 60 --lead-secs 10 --redis 127.0.0.1:6379
//
// Prints one JSON line: {"peer", "jobs", "done", "duplicates", "early", "p50_ms", "p99_ms",
// "max_ms", "per_s"} (-1 for figures of no job).

const [peer, ...rest] = process.argv.slice(2);
const flags = Object.fromEntries(
  rest.reduce((pairs, v, i, all) => (i % 2 ? pairs : [...pairs, [all[i], all[i + 1]]]), []),
);
const jobs = Number(flags["--jobs"] ?? 10000);
const spreadMs = Number(flags["--spread-secs"] ?? 60) * 1000;
const leadMs = Number(flags["--lead-secs"] ?? 10) * 1000;
const concurrency = Number(flags["--concurrency"] ?? 10);

const start = Date.now();
const dueTimes = Array.from({ length: jobs }, (_, n) => start + leadMs + Math.floor((n * spreadMs) / jobs));
const lateness = [];
const seen = new Set();
let early = 0;
let duplicates = 0;
let finished;
// Every job done, or the time it should take and five minutes more.
const allDone = Promise.race([
  new Promise((resolve) => (finished = resolve)),
  new Promise((resolve) => setTimeout(resolve, leadMs + spreadMs + 300_000).unref()),
]);

// A job is known by its index: a second run of one is a duplicate, not another job's result.
function handled(n, due) {
  if (seen.has(n)) {
    duplicates += 1;
    return;
  }
  seen.add(n);
  const late = Date.now() - due;
  if (late < 0) early += 1;
  lateness.push(late);
  if (lateness.length === jobs) finished();
}

function report(firstDue) {
  const sorted = [...lateness].sort((a, b) => a - b);
  const at = (q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : -1);
  const seconds = (Date.now() - firstDue) / 1000;
  console.log(
    JSON.stringify({
      peer,
      jobs,
      done: lateness.length,
      duplicates,
      early,
      p50_ms: at(0.5),
      p99_ms: at(0.99),
      max_ms: at(1),
      per_s: Math.round(lateness.length / seconds),
    }),
  );
}

async function graphile() {
  const { run, makeWorkerUtils } = await import("graphile-worker");
  const connectionString = flags["--postgres"] ?? "postgres://postgres@127.0.0.1:5432/test";
  const utils = await makeWorkerUtils({ connectionString });
  await utils.migrate();
  await utils.withPgClient((client) => client.query("DELETE FROM graphile_worker._private_jobs"));
  await utils.withPgClient((client) =>
    client.query(
      `SELECT graphile_worker.add_job('notify', json_build_object('n', n - 1, 'due', due),
         run_at := to_timestamp(due / 1000.0), max_attempts := 1)
       FROM unnest($1::bigint[]) WITH ORDINALITY AS t(due, n)`,
      [dueTimes],
    ),
  );
  const runner = await run({
    connectionString,
    concurrency,
    pollInterval: 250,
    noHandleSignals: true,
    taskList: { notify: async (payload) => handled(payload.n, payload.due) },
    logger: new (await import("graphile-worker")).Logger(() => () => {}),
  });
  await allDone;
  report(dueTimes[0]);
  await runner.stop();
  await utils.release();
}

async function bullmq() {
  const { Queue, Worker } = await import("bullmq");
  const [host, port] = (flags["--redis"] ?? "127.0.0.1:6379").split(":");
  const connection = { host, port: Number(port), maxRetriesPerRequest: null };
  const queue = new Queue("tandem-peer-lateness", { connection });
  await queue.obliterate({ force: true });
  for (let i = 0; i < jobs; i += 1000) {
    const now = Date.now();
    await queue.addBulk(
      dueTimes.slice(i, i + 1000).map((due, k) => ({
        name: "notify",
        data: { n: i + k, due },
        opts: { delay: Math.max(0, due - now), removeOnComplete: true, attempts: 1 },
      })),
    );
  }
  const worker = new Worker("tandem-peer-lateness", async (job) => handled(job.data.n, job.data.due), {
    connection,
    concurrency,
  });
  await allDone;
  report(dueTimes[0]);
  await worker.close();
  await queue.close();
}

const peers = { graphile, bullmq };
if (!peers[peer]) {
  console.error("usage: node lateness.mjs graphile|bullmq [--jobs N] [--spread-secs S] [--lead-secs L]");
  process.exit(2);
}
await peers[peer]();
process.exit(0);
