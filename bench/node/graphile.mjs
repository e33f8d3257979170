// Drain a pre-queued backlog with graphile-worker's own runner; prints {"jobs": n, "seconds": s}.
// usage: node graphile.mjs <connection string> <jobs> <concurrency>
import { run, makeWorkerUtils } from "graphile-worker";
import pg from "pg";

const [connectionString, jobsArg, concurrencyArg] = process.argv.slice(2);
const jobs = Number(jobsArg);
const concurrency = Number(concurrencyArg);

const utils = await makeWorkerUtils({ connectionString });
await utils.migrate();
await utils.release();
const client = new pg.Client({ connectionString });
await client.connect();
await client.query("DELETE FROM graphile_worker._private_jobs");
await client.query(
  `SELECT count(graphile_worker.add_job('bench', '{"n": 1}'::json)) FROM generate_series(1, $1)`,
  [jobs],
);
await client.end();

let done = 0;
let finished;
const allDone = new Promise((resolve) => (finished = resolve));
const start = process.hrtime.bigint();
const runner = await run({
  connectionString,
  concurrency,
  noHandleSignals: true,
  pollInterval: 100,
  logger: undefined,
  taskList: {
    bench: async () => {
      done += 1;
      if (done === jobs) finished();
    },
  },
});
await allDone;
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
await runner.stop();
console.log(JSON.stringify({ jobs, seconds }));
