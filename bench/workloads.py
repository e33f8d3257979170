"""queue_ext's own long workloads: W4 (history and backlog), W5 (soak), W6 (scheduled backlog),
W7 (held xmin horizon). Driven by bench.py; each returns a dict for the report and results.json."""
import json
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time

TABLES = ("ready", "scheduled", "running", "done", "dead", "dedupe")

MIXED = ("SELECT coalesce(array_agg(id), '{{}}') AS ids, coalesce(min(lease_token::text), '00000000-0000-0000-0000-000000000000') AS tok\n"
         "  FROM queue.claim('{q}', batch => {b}) \\gset\n"
         "SELECT count(*) FROM queue.complete_many(:ids::bigint[], ARRAY[:tok]::uuid[]);\n"
         "SELECT count(*) FROM queue.enqueue_many('{q}', array_fill('{{\"n\": 1}}'::jsonb, ARRAY[{b}]));\n")

DRAIN = ("SELECT coalesce(array_agg(id), '{{}}') AS ids, coalesce(min(lease_token::text), '00000000-0000-0000-0000-000000000000') AS tok\n"
         "  FROM queue.claim('{q}', batch => {b}) \\gset\n"
         "SELECT count(*) FROM queue.complete_many(:ids::bigint[], ARRAY[:tok]::uuid[]);\n")


def storage(cluster):
    """Sizes and dead tuples of the job tables, summed."""
    names = ", ".join(f"'queue.{t}'" for t in TABLES)
    return json.loads(cluster.scalar(
        "SELECT json_build_object("
        f" 'total_bytes', (SELECT sum(pg_total_relation_size(r::regclass)) FROM unnest(ARRAY[{names}]) r),"
        f" 'ready_bytes', pg_total_relation_size('queue.ready'), 'running_bytes', pg_total_relation_size('queue.running'),"
        f" 'done_bytes', pg_total_relation_size('queue.done'),"
        " 'dead_tuples', (SELECT sum(n_dead_tup) FROM pg_stat_user_tables WHERE schemaname = 'queue'),"
        " 'live_jobs', (SELECT (SELECT count(*) FROM queue.ready) + (SELECT count(*) FROM queue.running)))"))


def recreate(cluster, queue, options=""):
    cluster.psql(f"SELECT queue.drop_queue(name, force => true) FROM queue.queues WHERE name = '{queue}'")
    # A dropped queue's jobs are purged by the background worker: let it finish, so that the
    # purge does not compete with the next measurement.
    deadline = time.time() + 600
    while int(cluster.scalar("SELECT count(*) FROM queue.dropped_queues")) > 0 and time.time() < deadline:
        time.sleep(0.5)
    cluster.psql(f"SELECT queue.create_queue('{queue}'{options})")


def clean_slate(cluster):
    """Every long workload starts from empty job tables: the drain backlogs and histories the
    earlier workloads leave (millions of rows) would otherwise be vacuumed, pruned and purged
    during its measurement. The benchmark's cluster is its own, so it simply truncates."""
    cluster.psql("SELECT count(queue.drop_queue(name, force => true)) FROM queue.queues;"
                 " TRUNCATE queue.ready, queue.scheduled, queue.running, queue.done, queue.dead, queue.dedupe,"
                 " queue.dropped_queues, queue.group_state;")
    vacuum(cluster)
    cluster.psql("CHECKPOINT")


def vacuum(cluster):
    cluster.psql("VACUUM ANALYZE " + ", ".join(f"queue.{t}" for t in TABLES))


def w4(cluster, pgbench, seconds, clients, pending_sizes, history):
    """Claim throughput (claim + complete + enqueue of the same count, so pending stays put)."""
    clean_slate(cluster)
    results = {}
    recreate(cluster, "bench_w4", ", retention => '1 year'")
    cluster.psql("INSERT INTO queue.done (queue_id, state, payload, max_attempts, attempts, run_at, enqueued_at, finished_at)"
                 " SELECT (SELECT id FROM queue.queues WHERE name = 'bench_w4'), 'done', '{}', 25, 1, now(), now(), now()"
                 f" FROM generate_series(1, {history})")
    for pending in pending_sizes:
        have = int(cluster.scalar("SELECT count(*) FROM queue.jobs WHERE queue = 'bench_w4' AND state = 'pending'"))
        while have < pending:
            n = min(100_000, pending - have)
            cluster.psql(f"SELECT count(*) FROM queue.enqueue_many('bench_w4', array_fill('{{}}'::jsonb, ARRAY[{n}]))")
            have += n
        vacuum(cluster)
        cluster.psql("CHECKPOINT")
        tps, _ = pgbench(cluster, MIXED.format(q="bench_w4", b=100), clients, seconds, True)
        results[pending] = tps * 100
    return results


def w5(cluster, pgbench, seconds, clients):
    """Soak: mixed enqueue and drain; throughput per minute, sizes and dead tuples at the end."""
    clean_slate(cluster)
    recreate(cluster, "bench_w5", ", retention => '1 minute'")
    cluster.psql("SELECT count(*) FROM queue.enqueue_many('bench_w5', array_fill('{}'::jsonb, ARRAY[10000]))")
    vacuum(cluster)  # start from the earlier workloads' leftovers cleaned up: the end state is the soak's own
    period = 60 if seconds >= 120 else max(1, seconds // 4)
    tps, log = pgbench(cluster, MIXED.format(q="bench_w5", b=100), clients, seconds, True, progress=period)
    per_period = [float(m) * 100 for m in re.findall(r"progress: [0-9.]+ s, ([0-9.]+) tps", log)]
    return {"seconds": seconds, "period_seconds": period, "jobs_per_second": tps * 100, "per_period": per_period,
            **storage(cluster)}


def latencies_ms(log_dir):
    """Per-transaction latencies (ms) from pgbench --log files."""
    out = []
    for name in os.listdir(log_dir):
        with open(os.path.join(log_dir, name)) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    out.append(int(parts[2]) / 1000.0)
    return out


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100.0 * len(values)))]


def w6(cluster, pgbench, seconds, clients, scheduled=1_000_000, groups=100_000):
    """Scheduled backlog: claim throughput and empty-claim latency on a queue that also holds
    `scheduled` jobs due over the next 6 hours across `groups` groups, against the same queue
    without them."""
    clean_slate(cluster)
    result = {"scheduled": scheduled, "groups": groups}
    for name, backlog in (("without", False), ("with", True)):
        q = "bench_w6"
        recreate(cluster, q)
        if backlog:
            # One job per call keeps each its own group and due time, as a spread refresh makes them.
            step = 50_000
            for start in range(0, scheduled, step):
                cluster.psql(
                    f"SELECT count(queue.enqueue('{q}', '{{}}', group_key => 'user' || (g % {groups}),"
                    f" run_at => now() + interval '10 seconds' + (g % 21600) * interval '1 second'))"
                    f" FROM generate_series({start}, {start + step - 1}) g")
        cluster.psql(f"SELECT count(*) FROM queue.enqueue_many('{q}', array_fill('{{}}'::jsonb, ARRAY[20000]))")
        vacuum(cluster)
        cluster.psql("CHECKPOINT")
        tps, _ = pgbench(cluster, MIXED.format(q=q, b=100), clients, seconds, True)
        # Empty claims: no ready job left, the scheduled ones not due.
        cluster.psql(f"SELECT count(*) FROM queue.claim('{q}', batch => 10000)")
        with tempfile.TemporaryDirectory() as d:
            pgbench(cluster, f"SELECT count(*) FROM queue.claim('{q}', batch => 100);\n", 1, max(2, seconds // 2), True,
                    log_prefix=os.path.join(d, "w6"))
            lat = latencies_ms(d)
        result[name] = {"jobs_per_second": tps * 100, "empty_claim_p50_ms": percentile(lat, 50),
                        "empty_claim_p99_ms": percentile(lat, 99), "empty_claims": len(lat)}
    result["ratio"] = result["with"]["jobs_per_second"] / result["without"]["jobs_per_second"]
    recreate(cluster, "bench_w6")
    return result


class Pin:
    """Holds back the xmin horizon: an idle transaction with an xid, a REPEATABLE READ snapshot, or
    a logical replication slot."""

    def __init__(self, cluster, how):
        self.cluster, self.how, self.proc = cluster, how, None

    def __enter__(self):
        if self.how == "slot":
            self.cluster.psql("SELECT pg_create_logical_replication_slot('bench_w7', 'test_decoding')")
            return self
        sql = {"xid": "BEGIN; SELECT txid_current();\n",
               "snapshot": "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM queue.queues;\n"}[self.how]
        self.proc = subprocess.Popen([f"{self.cluster.pg_bin}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"],
                                     env=self.cluster.env(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     text=True)
        self.proc.stdin.write(sql)
        self.proc.stdin.flush()
        return self

    def __exit__(self, *exc):
        if self.how == "slot":
            self.cluster.psql("SELECT pg_drop_replication_slot('bench_w7')")
        else:
            self.proc.stdin.write("COMMIT;\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def worker_usage(cluster):
    """(pid, CPU seconds used, ticks) of the database's background worker: CPU from
    /proc/<pid>/schedstat (nanoseconds on a CPU), else utime + stime from /proc/<pid>/stat."""
    pid, ticks = cluster.scalar("SELECT coalesce(pid, 0) || '|' || ticks FROM queue.worker_status").split("|")
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            cpu = int(f.read().split()[0]) / 1e9
    except OSError:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return int(pid), cpu, int(ticks)


def usage_between(a, b, seconds):
    """The worker's cost between two worker_usage() readings: % of a core, CPU ms per tick."""
    if a[0] != b[0]:
        return {"seconds": seconds, "percent_of_core": None, "ms_per_tick": None, "ticks": None}  # it restarted
    cpu, ticks = b[1] - a[1], b[2] - a[2]
    return {"seconds": round(seconds, 1), "percent_of_core": 100 * cpu / seconds, "ticks": ticks,
            "ms_per_tick": 1000 * cpu / ticks if ticks else None}


def fmt_usage(u):
    if u["percent_of_core"] is None:
        return "restarted"
    per_tick = "" if u["ms_per_tick"] is None else f", {u['ms_per_tick']:.2f} ms/tick"
    return f"{u['percent_of_core']:.3f}% of a core ({u['ticks']} ticks{per_tick})"


def idle_cost(cluster, seconds):
    """The worker's CPU over `seconds` of a database whose queues are idle."""
    a, started = worker_usage(cluster), time.time()
    time.sleep(seconds)
    return usage_between(a, worker_usage(cluster), time.time() - started)


def idle(cluster, pgbench, clients, burst, seconds):
    """IDLE: what the worker costs a database whose queue is idle (100 ready jobs, nothing running),
    fresh and after a drain of `burst` jobs (W2's flow, B=100). The job tables are vacuumed without
    truncation after the burst: they keep the size the burst gave them, empty, as autovacuum leaves
    them when it cannot take the ACCESS EXCLUSIVE lock truncation needs."""
    q = "bench_idle"
    clean_slate(cluster)
    recreate(cluster, q)
    cluster.psql(f"SELECT count(*) FROM queue.enqueue_many('{q}', array_fill('{{}}'::jsonb, ARRAY[100]))")
    settle = min(2.0, seconds / 3)  # the worker's first ticks (recount) are not idle
    time.sleep(settle)
    fresh = idle_cost(cluster, seconds)
    tables = ", ".join(f"queue.{t}" for t in TABLES)
    for start in range(0, burst, 100_000):
        n = min(100_000, burst - start)
        cluster.psql(f"SELECT count(*) FROM queue.enqueue_many('{q}', array_fill('{{\"n\": 1}}'::jsonb, ARRAY[{n}]))")
    drain_started = time.time()
    while int(cluster.scalar(f"SELECT count(*) FROM (SELECT FROM queue.ready WHERE queue_id ="
                             f" (SELECT id FROM queue.queues WHERE name = '{q}') LIMIT 1) x")) > 0:
        pgbench(cluster, DRAIN.format(q=q, b=100), clients, min(5, seconds), True)
    drained_in = time.time() - drain_started
    running = int(cluster.scalar("SELECT count(*) FROM queue.running"))  # pgbench ends whole scripts: 0
    cluster.psql(f"SELECT count(*) FROM queue.enqueue_many('{q}', array_fill('{{}}'::jsonb, ARRAY[100]))")
    for t in TABLES:
        cluster.psql(f"ALTER TABLE queue.{t} SET (vacuum_truncate = false)")
    try:
        cluster.psql(f"VACUUM {tables}")
        sizes = storage(cluster)
        time.sleep(settle)
        after = idle_cost(cluster, seconds)
    finally:
        for t in TABLES:
            cluster.psql(f"ALTER TABLE queue.{t} RESET (vacuum_truncate)")
    recreate(cluster, q)
    return {"burst": burst, "drained_in_seconds": round(drained_in, 1), "running_jobs": running,
            "fresh": fresh, "after_burst": after,
            "running_bytes": sizes["running_bytes"], "total_bytes": sizes["total_bytes"]}


def w7(cluster, pgbench, rate, before, pin, after, period, hows=("xid", "snapshot", "slot")):
    """Held horizon: a producer at a fixed offered rate (jobs/s) and a consumer draining as fast as
    it can, `before` seconds unpinned, `pin` seconds with the horizon held, `after` seconds
    released. Per period: completions per second, claim p99, dead tuples and sizes."""
    results = {"offered_per_second": rate, "before": before, "pin": pin, "after": after, "period": period}
    q = "bench_w7"
    batch = 10
    for how in hows:
        clean_slate(cluster)
        recreate(cluster, q, ", retention => '1 minute'")
        samples = []
        stop = threading.Event()
        total = before + pin + after
        with tempfile.TemporaryDirectory() as d:
            def run(script, clients, **kw):
                pgbench(cluster, script, clients, total, True, **kw)
            producer = threading.Thread(target=run, args=(
                f"SELECT count(*) FROM queue.enqueue_many('{q}', array_fill('{{\"n\": 1}}'::jsonb, ARRAY[{batch}]));\n", 1),
                kwargs={"rate": rate / batch})
            consumer = threading.Thread(target=run, args=(DRAIN.format(q=q, b=100), 1),
                                        kwargs={"log_prefix": os.path.join(d, "claim")})
            started = time.time()
            producer.start()
            consumer.start()
            # The worker's cost per tick in each period (CPU from /proc, ticks from worker_status).
            last = [worker_usage(cluster), time.time()]

            def sample(phase):
                done = int(cluster.scalar(
                    f"SELECT count(*) FROM queue.jobs WHERE queue = '{q}' AND state = 'done'"
                    f" AND finished_at > now() - interval '{period} seconds'"))
                usage, now = worker_usage(cluster), time.time()
                worker = usage_between(last[0], usage, now - last[1])
                last[:] = [usage, now]
                s = {"t": round(time.time() - started), "phase": phase, "completed_per_second": done / period,
                     "worker": worker, **storage(cluster)}
                samples.append(s)
                print(f"  W7 {how} t={s['t']}s {phase}: {s['completed_per_second']:.0f} jobs/s, "
                      f"{s['dead_tuples']} dead tuples, {s['total_bytes'] / 1e6:.1f} MB, worker {fmt_usage(worker)}",
                      flush=True)

            def phase(name, seconds):
                end = time.time() + seconds
                while time.time() < end - 0.5:
                    time.sleep(min(period, max(0.0, end - time.time())))
                    sample(name)

            phase("before", before)
            with Pin(cluster, how):
                phase("pinned", pin)
            phase("after", after)
            producer.join()
            consumer.join()
            lat = latencies_ms(d)
        pinned = [s["completed_per_second"] for s in samples if s["phase"] == "pinned"]
        ticks = [s["worker"]["ms_per_tick"] for s in samples if s["phase"] == "pinned" and s["worker"]["ms_per_tick"]]
        results[how] = {"samples": samples, "claim_p99_ms": percentile(lat, 99),
                        "pinned_worker_ms_per_tick_max": max(ticks) if ticks else None,
                        "pinned_min_ratio": (min(pinned) / rate) if pinned else None,
                        "pinned_mean_ratio": (statistics.mean(pinned) / rate) if pinned else None}
    recreate(cluster, q)
    return results


def heartbeat_cost(cluster, pgbench, seconds, clients, running=1_000):
    """HB: what a heartbeat costs: `running` jobs claimed with a long lease, heartbeats of random
    ones for `seconds` (pgbench, `clients`): heartbeats per second, WAL per heartbeat, and the share
    of heartbeats that were HOT updates (pg_stat_user_tables)."""
    q = "bench_hb"
    clean_slate(cluster)
    recreate(cluster, q)
    cluster.psql(f"SELECT count(*) FROM queue.enqueue_many('{q}', array_fill('{{}}'::jsonb, ARRAY[{running}]))")
    first, tok = cluster.scalar(f"SELECT min(id) || '|' || min(lease_token::text) FROM queue.claim('{q}',"
                                f" batch => {running}, lease => '1 hour')").split("|")
    cluster.psql("VACUUM ANALYZE queue.running")
    cluster.psql("SELECT pg_stat_force_next_flush()")
    stat = ("SELECT n_tup_upd || '|' || n_tup_hot_upd || '|' || (pg_current_wal_lsn() - '0/0'::pg_lsn)"
            " FROM pg_stat_user_tables WHERE relid = 'queue.running'::regclass")
    upd0, hot0, wal0 = (int(x) for x in cluster.scalar(stat).split("|"))
    script = (f"\\set i random(0, {running - 1})\n"
              f"SELECT queue.heartbeat({first} + :i, '{tok}');\n")
    tps, _ = pgbench(cluster, script, clients, seconds, True)
    cluster.psql("SELECT pg_stat_force_next_flush()")
    time.sleep(0.5)  # statistics reach the shared counters asynchronously
    upd1, hot1, wal1 = (int(x) for x in cluster.scalar(stat).split("|"))
    n = max(1, upd1 - upd0)
    recreate(cluster, q)
    return {"running": running, "heartbeats_per_second": tps, "wal_bytes_per_heartbeat": (wal1 - wal0) / n,
            "hot_share": (hot1 - hot0) / n}


def write_cost(cluster, jobs=20_000):
    """What one job costs to write, step by step, measured: WAL bytes (pg_current_wal_lsn before and
    after), and rows inserted and deleted and index entries added per table (pg_stat_user_tables).
    Retention kept (the default) and retention 0, batches of 100."""
    def counters():
        return json.loads(cluster.scalar(
            "SELECT json_object_agg(relname, json_build_array(n_tup_ins, n_tup_del, n_tup_upd, n_tup_hot_upd))"
            " FROM pg_stat_user_tables WHERE schemaname = 'queue'"))

    def wal():
        return int(cluster.scalar("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))

    def step(sql):
        cluster.psql("SELECT pg_stat_force_next_flush()")
        before_c, before_w = counters(), wal()
        cluster.psql(sql)
        cluster.psql("SELECT pg_stat_force_next_flush()")
        time.sleep(0.2)  # statistics reach the shared counters asynchronously
        after_c, after_w = counters(), wal()
        delta = {}
        for rel, (ins, dele, upd, hot) in after_c.items():
            b = before_c.get(rel, [0, 0, 0, 0])
            d = (ins - b[0], dele - b[1], upd - b[2], hot - b[3])
            if any(d):
                delta[rel] = {"inserted": d[0] / jobs, "deleted": d[1] / jobs, "updated": d[2] / jobs}
        return {"wal_bytes_per_job": (after_w - before_w) / jobs, "rows_per_job": delta}

    out = {}
    loops = jobs // 100
    enqueue_sql = ("SELECT count(*) FROM (SELECT queue.enqueue_many('{q}', array_fill('{{\"n\": 1}}'::jsonb, ARRAY[100]))"
                   " FROM generate_series(1, {loops})) x")
    drain_sql = ("DO $$ DECLARE ids bigint[]; tok uuid; BEGIN FOR i IN 1..{loops} LOOP"
                 " SELECT array_agg(id), min(lease_token::text)::uuid INTO ids, tok FROM queue.claim('{q}', batch => 100);"
                 " PERFORM queue.complete_many(ids, ARRAY[tok]); END LOOP; END $$")
    for retention in ("1 day", "0"):
        q = "bench_cost"
        clean_slate(cluster)
        recreate(cluster, q, f", retention => '{retention}'")
        # Warm up, so that the measured steps write into pages already touched since the last
        # checkpoint: steady-state WAL, not the full-page images of a checkpoint's first touch.
        cluster.psql(enqueue_sql.format(q=q, loops=loops))
        cluster.psql(drain_sql.format(q=q, loops=loops))
        enqueue = step(enqueue_sql.format(q=q, loops=loops))
        claim_complete = step(drain_sql.format(q=q, loops=loops))
        out[f"retention {retention}"] = {"enqueue": enqueue, "claim and complete": claim_complete}
    recreate(cluster, "bench_cost")
    return out


def schedules(cluster, total=100_000, firing=10_000, seconds=60):
    """Cron schedules at scale: what a tick's due scan costs with `total` idle schedules (EXPLAIN
    ANALYZE of the worker's statement, generic plan), then `firing` of them firing every minute,
    jittered over the minute: fires per second achieved and how late they fired."""
    clean_slate(cluster)
    cluster.psql("SELECT count(queue.unschedule(name)) FROM queue.schedules WHERE name LIKE 'bench_s_%'")
    recreate(cluster, "bench_sched", ", retention => '0', notify => false")
    cluster.psql(f"SELECT count(queue.schedule('bench_s_' || g, '0 0 1 1 *', 'bench_sched', jitter => '1 day'))"
                 f" FROM generate_series(1, {total}) g")
    cluster.psql("VACUUM ANALYZE queue.schedules")
    here = os.path.dirname(os.path.abspath(__file__))
    due_sql = open(os.path.join(here, "..", "src", "store", "sql", "schedules_due.sql")).read()
    plan = json.loads(cluster.psql(
        "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off;"
        f" PREPARE due(bigint, text[]) AS {due_sql};"
        " EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE due(100, '{}')"))
    idle = {"execution_ms": plan[0]["Execution Time"],
            "buffers": plan[0]["Plan"]["Shared Hit Blocks"] + plan[0]["Plan"]["Shared Read Blocks"]}
    # Make `firing` of them fire every minute, jittered over the minute.
    cluster.psql(f"SELECT count(queue.schedule('bench_s_' || g, '* * * * *', 'bench_sched', jitter => '1 minute'))"
                 f" FROM generate_series(1, {firing}) g")
    # Each now fires once a minute from the next minute on: measure whole minutes from there.
    time.sleep(60 - time.time() % 60 + 1)
    fired_before = int(cluster.scalar("SELECT coalesce(sum(fires), 0) FROM queue.schedules WHERE name LIKE 'bench_s_%'"))
    started = time.time()
    time.sleep(seconds)
    elapsed = time.time() - started
    fired = int(cluster.scalar("SELECT coalesce(sum(fires), 0) FROM queue.schedules WHERE name LIKE 'bench_s_%'")) - fired_before
    lateness = json.loads(cluster.scalar(
        "SELECT json_build_object('p50_ms', percentile_cont(0.5) WITHIN GROUP (ORDER BY ms),"
        " 'p99_ms', percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), 'max_ms', max(ms))"
        " FROM (SELECT extract(epoch FROM enqueued_at - run_at) * 1000 AS ms FROM queue.jobs WHERE queue = 'bench_sched') l"))
    misses = int(cluster.scalar("SELECT coalesce(sum(misses), 0) FROM queue.schedules WHERE name LIKE 'bench_s_%'"))
    cluster.psql("SELECT count(queue.unschedule(name)) FROM queue.schedules WHERE name LIKE 'bench_s_%'")
    recreate(cluster, "bench_sched")
    return {"total": total, "firing": firing, "idle_due_scan": idle, "seconds": elapsed,
            "fires_per_second": fired / elapsed, "expected_per_second": firing / 60.0, "misses": misses,
            "lateness": lateness}


TIMER = """CREATE FUNCTION pg_temp.w8_time(sql text, n int) RETURNS SETOF float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz;
BEGIN
    FOR i IN 1..n LOOP
        t0 := clock_timestamp();
        EXECUTE sql;
        RETURN NEXT extract(epoch FROM clock_timestamp() - t0) * 1000;
    END LOOP;
END $$;
"""


def w8(cluster, pending=1_000_000, finished=10_000_000, groups=1_000, calls=200):
    """Observability at scale: queue.stats and queue.metrics() on a queue holding `pending` ready
    jobs in `groups` groups with `finished` done jobs in its history. Each statement is timed
    server-side (clock_timestamp around EXECUTE, `calls` times), and its buffers counted with
    EXPLAIN (ANALYZE, BUFFERS): the cost must not depend on the backlog or the history."""
    clean_slate(cluster)
    recreate(cluster, "bench_w8")
    qid = cluster.scalar("SELECT id FROM queue.queues WHERE name = 'bench_w8'")
    cluster.psql(f"INSERT INTO queue.ready (queue_id, max_attempts, run_at, enqueued_at, group_key, payload)"
                 f" SELECT {qid}, 25, now() - interval '1 minute', now(), 'g' || (g % {groups}), '{{}}'"
                 f"   FROM generate_series(1, {pending}) g")
    for start in range(0, finished, 1_000_000):
        n = min(1_000_000, finished - start)
        cluster.psql(f"INSERT INTO queue.done (queue_id, max_attempts, run_at, enqueued_at, payload, state, finished_at)"
                     f" SELECT {qid}, 25, now(), now(), '{{}}', 'done', now() - interval '1 hour'"
                     f"   FROM generate_series(1, {n})")
    vacuum(cluster)
    cluster.psql("CHECKPOINT")
    # The insert above was counted by the triggers: check the view agrees with the table.
    counted = cluster.scalar("SELECT ready FROM queue.stats WHERE queue = 'bench_w8'")
    out = {"pending": pending, "finished": finished, "groups": groups, "calls": calls, "stats_ready": int(counted)}
    # What ADR 002 compares with: counting on read, and the worker's recount.
    for name, sql, n in (("stats", "SELECT * FROM queue.stats", calls),
                         ("stats_one", "SELECT * FROM queue.stats WHERE queue = 'bench_w8'", calls),
                         ("metrics", "SELECT queue.metrics()", calls),
                         ("count_on_read", f"SELECT count(*) FROM queue.ready WHERE queue_id = {qid}", 10)):
        lat = json.loads(cluster.psql(TIMER +
            "SELECT json_build_object('p50_ms', percentile_cont(0.5) WITHIN GROUP (ORDER BY ms),"
            " 'p99_ms', percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), 'max_ms', max(ms))"
            f" FROM pg_temp.w8_time($q${sql}$q$, {n}) ms").splitlines()[-1])
        plan = json.loads(cluster.psql(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}"))
        lat["buffers"] = plan[0]["Plan"].get("Shared Hit Blocks", 0) + plan[0]["Plan"].get("Shared Read Blocks", 0)
        out[name] = lat
    # The worker's recount, asked for with queue.recount(): from the request until queue.stats
    # knows the depths again (a wake-up, four conditional locks, four counts). Writers of a table
    # wait only while that table is counted: for the ready table, about count_on_read.
    runs = []
    for _ in range(5):
        started = time.monotonic()
        cluster.psql("SELECT queue.recount()")
        while cluster.scalar("SELECT counted FROM queue.stats WHERE queue = 'bench_w8'") != "t":
            time.sleep(0.001)
        runs.append((time.monotonic() - started) * 1000)
    runs.sort()
    out["recount"] = {"p50_ms": runs[2], "p99_ms": runs[-1], "max_ms": runs[-1], "buffers": 0}
    recreate(cluster, "bench_w8")
    clean_slate(cluster)
    return out
