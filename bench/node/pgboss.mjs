// Drain a pre-queued backlog with pg-boss's own workers; prints {"jobs": n, "seconds": s}.
// usage: node pgboss.mjs <connection string> <jobs> <workers> <batch size>
import PgBoss from "pg-boss";

const [connectionString, jobsArg, workersArg, batchArg] = process.argv.slice(2);
const jobs = Number(jobsArg);
const workers = Number(workersArg);
const batchSize = Number(batchArg);

const boss = new PgBoss({ connectionString, max: workers + 2, supervise: false, schedule: false });
boss.on("error", (e) => console.error(e));
await boss.start();
await boss.deleteQueue("bench").catch(() => {});
await boss.createQueue("bench");
for (let sent = 0; sent < jobs; sent += 1000) {
  const n = Math.min(1000, jobs - sent);
  await boss.insert(Array.from({ length: n }, () => ({ name: "bench", data: { n: 1 } })));
}

let done = 0;
let finished;
const allDone = new Promise((resolve) => (finished = resolve));
const start = process.hrtime.bigint();
for (let w = 0; w < workers; w++) {
  await boss.work("bench", { batchSize, pollingIntervalSeconds: 0.5 }, async (batch) => {
    done += batch.length;
    if (done >= jobs) finished();
  });
}
await allDone;
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
await boss.stop({ graceful: false, wait: false });
console.log(JSON.stringify({ jobs, seconds }));
process.exit(0);
