#!/usr/bin/env python3
"""queue_ext benchmark: queue_ext against the bare-SQL floors and peer queues, in one run.

Run through bench/run, which builds and installs everything and starts the dedicated cluster.
Repetitions are interleaved across systems (rep 1 of every system, then rep 2, ...), so that the
machine's drift hits all systems alike; reported figures are medians with min and max.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import workloads
from systems import QUICK_SYSTEMS, SQL_SYSTEMS

HERE = os.path.dirname(os.path.abspath(__file__))


class Cluster:
    def __init__(self, host, port, db, pg_bin):
        self.host, self.port, self.db, self.pg_bin = host, port, db, pg_bin

    def env(self, sync=True):
        env = dict(os.environ, PGHOST=self.host, PGPORT=str(self.port), PGUSER="postgres", PGDATABASE=self.db)
        env["PGOPTIONS"] = "-c synchronous_commit=" + ("on" if sync else "off")
        return env

    def psql(self, sql, quiet=True):
        out = subprocess.run([f"{self.pg_bin}/psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             env=self.env(), capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {sql[:200]}\n{out.stderr}")
        return out.stdout.strip()

    def scalar(self, sql):
        return self.psql(sql).splitlines()[-1]

    def url(self):
        return f"postgresql://postgres@/{self.db}?host={self.host}&port={self.port}"


def pgbench(cluster, script, clients, seconds, sync, defines=None, progress=None, rate=None, log_prefix=None):
    """Run one pgbench script; returns (transactions per second, pgbench output). With `rate`, at
    that many transactions per second; with `log_prefix`, every transaction's latency is logged."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
        path = f.name
    cmd = [f"{cluster.pg_bin}/pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(clients),
           "-T", str(seconds), "-f", path]
    for k, v in (defines or {}).items():
        cmd += ["-D", f"{k}={v}"]
    if progress:
        cmd += ["-P", str(progress)]
    if rate:
        cmd += ["-R", str(rate)]
    if log_prefix:
        cmd += ["-l", "--log-prefix", log_prefix]
    out = subprocess.run(cmd, env=cluster.env(sync), capture_output=True, text=True)
    os.unlink(path)
    if out.returncode != 0:
        raise RuntimeError(f"pgbench failed ({out.returncode}):\n{script}\n{out.stdout}\n{out.stderr}")
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out.stdout).group(1))
    return tps, out.stdout + out.stderr


def w1(cluster, system, b, sync, seconds, clients):
    tps, _ = pgbench(cluster, system.enqueue_script(b), system.clients or clients, seconds, sync)
    return tps * b


def ensure_backlog(cluster, system, wanted):
    waiting = int(cluster.scalar(system.backlog_sql()))
    if waiting < wanted:
        cluster.psql(system.fill_sql(wanted - waiting))
        cluster.psql("VACUUM ANALYZE")


def w2(cluster, system, b, sync, seconds, clients, backlog_target):
    """Drain throughput (jobs/s) from a backlog sized not to run dry; None when it did anyway."""
    ensure_backlog(cluster, system, backlog_target[system.name, b])
    before = int(cluster.scalar(system.backlog_sql()))
    cluster.psql("CHECKPOINT")
    tps, _ = pgbench(cluster, system.drain_script(b), system.clients or clients, seconds, sync, system.drain_defines())
    after = int(cluster.scalar(system.backlog_sql()))
    # Next time, keep twice what this run consumed in reserve.
    backlog_target[system.name, b] = max(backlog_target[system.name, b], 2 * (before - after) + b * 100)
    return tps * b, after == 0


def node_drain(cluster, peer, jobs, workers, batch):
    script = os.path.join(HERE, "node", f"{peer}.mjs")
    args = ["node", script, cluster.url(), str(jobs), str(workers)] + ([str(batch)] if peer == "pgboss" else [])
    out = subprocess.run(args, env=cluster.env(), capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"{peer} failed:\n{out.stdout}\n{out.stderr}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return r["jobs"] / r["seconds"]


def w3(cluster, latency_bin, rate, seconds):
    out = subprocess.run([latency_bin, cluster.host, str(cluster.port), cluster.db, str(rate), str(seconds)],
                         capture_output=True, text=True, timeout=seconds * 10 + 60)
    if out.returncode != 0:
        raise RuntimeError(f"bench_latency failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarize(samples):
    keyed = {}
    for s in samples:
        keyed.setdefault((s["workload"], s["system"], s["batch"], s["sync"]), []).append(s["jobs_per_second"])
    rows = []
    for (workload, system, batch, sync), values in keyed.items():
        rows.append({"workload": workload, "system": system, "batch": batch, "sync": sync, "reps": len(values),
                     "median": statistics.median(values), "min": min(values), "max": max(values)})
    return rows


def find(rows, workload, system, batch, sync=True):
    for r in rows:
        if (r["workload"], r["system"], r["batch"], r["sync"]) == (workload, system, batch, sync):
            return r["median"]
    return None


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def targets(rows, w4_result, w5_result, w6_result=None, w7_result=None, w8_result=None, idle_result=None):
    """The issue's targets, each with its measured ratio and a plain verdict."""
    out = []

    def check(name, value, goal):
        out.append({"target": name, "value": value, "goal": goal,
                    "met": None if value is None else value >= goal})

    check("W2 B=100 sync on: plain flow (history kept) / FLOOR-2", ratio(find(rows, "W2", "queue_ext", 100), find(rows, "W2", "floor2", 100)), 0.85)
    check("W2 B=100 sync on: plain flow, retention 0 / FLOOR-2", ratio(find(rows, "W2", "queue_ext_forget", 100), find(rows, "W2", "floor2", 100)), 0.85)
    check("W2 B=100 sync on: one round trip / pgmq", ratio(find(rows, "W2", "queue_ext_rt", 100), find(rows, "W2", "pgmq", 100)), 1.5)
    for peer in ("graphile_worker", "pg_boss"):
        check(f"W2 B=100 sync on: one round trip / {peer}", ratio(find(rows, "W2", "queue_ext_rt", 100), find(rows, "W2", peer, 100)), 1.0)
    check("W1 B=100 sync on: enqueue_many / INSERT floor", ratio(find(rows, "W1", "queue_ext", 100), find(rows, "W1", "floor1", 100)), 0.70)
    if w4_result and len(w4_result) == 2:
        small, large = sorted(w4_result)
        check(f"W4: claim throughput at {large:,} pending / at {small:,}", ratio(w4_result[large], w4_result[small]), 0.90)
    if w5_result and len(w5_result["per_period"]) >= 2:
        check("W5: last period / first period", ratio(w5_result["per_period"][-1], w5_result["per_period"][0]), 0.90)
    check("W2 B=100 sync on: plain flow / pgmq", ratio(find(rows, "W2", "queue_ext", 100), find(rows, "W2", "pgmq", 100)), 1.2)
    check("W2 B=100 sync on: plain flow (history kept) / retention 0",
          ratio(find(rows, "W2", "queue_ext", 100), find(rows, "W2", "queue_ext_forget", 100)), 0.85)
    for flow, system in (("plain flow", "queue_ext"), ("one round trip", "queue_ext_rt")):
        check(f"W2 B=1 sync on: {flow} / pgmq", ratio(find(rows, "W2", system, 1), find(rows, "W2", "pgmq", 1)), 1.0)
    check("W1 B=1 sync on: enqueue / INSERT floor", ratio(find(rows, "W1", "queue_ext", 1), find(rows, "W1", "floor1", 1)), 0.90)
    if w6_result:
        check("W6: claim throughput with the scheduled backlog / without", w6_result["ratio"], 0.90)
        p99 = w6_result["with"]["empty_claim_p99_ms"]
        out.append({"target": "W6: empty claim p99 with the backlog (ms)", "value": p99, "goal": "< 2",
                    "met": None if p99 is None else p99 < 2.0})
    if w7_result:
        for how in ("xid", "snapshot", "slot"):
            if how in w7_result:
                check(f"W7 ({how}): lowest completions per period during the pin / offered",
                      w7_result[how]["pinned_min_ratio"], 0.5)
    if idle_result:
        pct = idle_result["after_burst"]["percent_of_core"]
        out.append({"target": f"IDLE: worker's share of a core after draining {idle_result['burst']:,} jobs (%)",
                    "value": pct, "goal": "< 0.1", "met": None if pct is None else pct < 0.1})
    if w8_result:
        for name in ("stats", "metrics"):
            p99 = w8_result[name]["p99_ms"]
            out.append({"target": f"W8: {name} p99 with {w8_result['pending']:,} pending, {w8_result['finished']:,} finished (ms)",
                        "value": p99, "goal": "< 5", "met": p99 < 5.0})
    return out


def print_report(rows, extras, verdicts, settings):
    print("\nSettings (same for every system):", ", ".join(f"{k}={v}" for k, v in settings.items()))
    print(f"\n{'workload':<4} {'B':>4} {'sync':<4} {'system':<18} {'median jobs/s':>14} {'min':>10} {'max':>10} "
          f"{'×FLOOR-1':>9} {'×FLOOR-2':>9} {'×pgmq':>7}")
    for r in sorted(rows, key=lambda r: (r["workload"], r["batch"], not r["sync"], r["system"])):
        f1 = ratio(r["median"], find(rows, r["workload"], "floor1", r["batch"], r["sync"]))
        f2 = ratio(r["median"], find(rows, r["workload"], "floor2", r["batch"], r["sync"]))
        pm = ratio(r["median"], find(rows, r["workload"], "pgmq", r["batch"], r["sync"]))
        fmt = lambda x: "" if x is None else f"{x:.2f}"
        print(f"{r['workload']:<4} {r['batch']:>4} {'on' if r['sync'] else 'off':<4} {r['system']:<18} {r['median']:>14,.0f} "
              f"{r['min']:>10,.0f} {r['max']:>10,.0f} {fmt(f1):>9} {fmt(f2):>9} {fmt(pm):>7}")
    present = {r["system"] for r in rows}
    for s in SQL_SYSTEMS:
        if s.note and s.name in present:
            print(f"note: {s.name}: {s.note}")
    if "graphile_worker" in present or "pg_boss" in present:
        print("note: graphile_worker and pg_boss drain a pre-queued backlog of 20 000 jobs with their own Node workers"
              " (4 concurrent; graphile-worker fetches one job per query, pg-boss batches of 100); shown in the B=100 rows."
              " pg-boss polls at most every 0.5 s per worker, which bounds it at about 4 × 100 / 0.5 = 800 jobs/s here")
    if extras.get("W3"):
        w = extras["W3"]
        print(f"\nW3 latency enqueue→claim, NOTIFY-woken worker, {w['offered_per_second']} jobs/s offered:"
              f" p50 {w['p50_ms']:.2f} ms, p99 {w['p99_ms']:.2f} ms, max {w['max_ms']:.2f} ms ({w['jobs']} jobs)")
    if extras.get("W4"):
        print("\nW4 claim throughput (claim+complete+enqueue, B=100) with 1 000 000 finished jobs in history:",
              ", ".join(f"{k:,} pending: {v:,.0f} jobs/s" for k, v in sorted(extras["W4"].items())))
    if extras.get("W5"):
        w = extras["W5"]
        print(f"\nW5 soak {w['seconds']} s: {w['jobs_per_second']:,.0f} jobs/s; per {w['period_seconds']} s:",
              ", ".join(f"{x:,.0f}" for x in w["per_period"]))
        print(f"   at the end: job tables {w['total_bytes']:,} B (ready {w['ready_bytes']:,} B, running {w['running_bytes']:,} B,"
              f" done {w['done_bytes']:,} B), {w['live_jobs']:,} live jobs, {w['dead_tuples']:,} dead tuples")
    if extras.get("COST"):
        print("\nWrite cost per job (batches of 100; WAL from pg_current_wal_lsn, rows from pg_stat_user_tables):")
        for retention, steps in extras["COST"].items():
            for name, c in steps.items():
                rows = "; ".join(f"{rel} +{r['inserted']:.2f} -{r['deleted']:.2f}" + (f" ~{r['updated']:.2f}" if r["updated"] else "")
                                 for rel, r in sorted(c["rows_per_job"].items()))
                print(f"   {retention:<14} {name:<19} {c['wal_bytes_per_job']:>6.0f} B WAL   {rows}")
    if extras.get("SCHED"):
        w = extras["SCHED"]
        print(f"\nSchedules: with {w['total']:,} idle schedules a tick's due scan takes {w['idle_due_scan']['execution_ms']:.3f} ms"
              f" ({w['idle_due_scan']['buffers']} buffers); {w['firing']:,} firing every minute (jittered):"
              f" {w['fires_per_second']:.1f} fires/s (expected {w['expected_per_second']:.1f}), {w['misses']} misses,"
              f" late by p50 {w['lateness']['p50_ms'] or 0:.0f} ms, p99 {w['lateness']['p99_ms'] or 0:.0f} ms")
    if extras.get("W6"):
        w = extras["W6"]
        print(f"\nW6 scheduled backlog ({w['scheduled']:,} jobs over 6 hours in {w['groups']:,} groups):")
        for k in ("without", "with"):
            print(f"   {k:<7} backlog: {w[k]['jobs_per_second']:,.0f} jobs/s; empty claim p50 {w[k]['empty_claim_p50_ms']:.2f} ms,"
                  f" p99 {w[k]['empty_claim_p99_ms']:.2f} ms ({w[k]['empty_claims']:,} claims)")
        print(f"   ratio {w['ratio']:.2f}")
    if extras.get("W8"):
        w = extras["W8"]
        print(f"\nW8 observability with {w['pending']:,} ready jobs in {w['groups']:,} groups and {w['finished']:,} finished"
              f" (queue.stats counted {w['stats_ready']:,} ready), {w['calls']} calls each, timed in the server:")
        for name in ("stats", "stats_one", "metrics", "count_on_read", "recount"):
            r = w[name]
            print(f"   {name:<10} p50 {r['p50_ms']:.3f} ms, p99 {r['p99_ms']:.3f} ms, max {r['max_ms']:.3f} ms, {r['buffers']} buffers")
    if extras.get("IDLE"):
        w = extras["IDLE"]
        print(f"\nIDLE worker cost, queue idle (100 ready jobs, nothing running), over {w['fresh']['seconds']:.0f} s:"
              f" fresh database {workloads.fmt_usage(w['fresh'])};"
              f" after draining {w['burst']:,} jobs (in {w['drained_in_seconds']:.0f} s; tables vacuumed, not truncated:"
              f" running {w['running_bytes'] / 1e6:.1f} MB, all job tables {w['total_bytes'] / 1e6:.1f} MB)"
              f" {workloads.fmt_usage(w['after_burst'])}")
    if extras.get("HB"):
        w = extras["HB"]
        print(f"\nHeartbeats of {w['running']:,} running jobs: {w['heartbeats_per_second']:,.0f}/s,"
              f" {w['wal_bytes_per_heartbeat']:.0f} B WAL each, {100 * w['hot_share']:.0f}% HOT")
    if extras.get("W7"):
        w = extras["W7"]
        print(f"\nW7 held horizon, {w['offered_per_second']} jobs/s offered; {w['before']} s, {w['pin']} s pinned, {w['after']} s after:")
        for how in ("xid", "snapshot", "slot"):
            if how in w:
                r = w[how]
                print(f"   {how}: claim p99 {r['claim_p99_ms']:.1f} ms; during the pin lowest {r['pinned_min_ratio']:.2f},"
                      f" mean {r['pinned_mean_ratio']:.2f} of the offered rate")
                for smp in r["samples"]:
                    print(f"      t={smp['t']:>4}s {smp['phase']:<7} {smp['completed_per_second']:>8,.0f} jobs/s"
                          f" {smp['dead_tuples']:>10,} dead {smp['total_bytes'] / 1e6:>8.1f} MB"
                          f"  worker {workloads.fmt_usage(smp['worker'])}")
    if verdicts:
        print("\nTargets:")
        for v in verdicts:
            if v["value"] is None:
                print(f"  n/a    {v['target']} (not measured in this run)")
            else:
                word = "MET" if v["met"] else "SHORT"
                goal = v["goal"] if isinstance(v["goal"], str) else f"≥ {v['goal']}"
                print(f"  {word:<6} {v['target']}: {v['value']:.2f} (goal {goal})")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", default="bench")
    ap.add_argument("--pg-bin", required=True)
    ap.add_argument("--quick", action="store_true", help="seconds: queue_ext and the floors, W1/W2 at B=100, sync on")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8, help="duration of each timed W1/W2 run")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--soak-seconds", type=int, default=600)
    ap.add_argument("--latency-bin")
    ap.add_argument("--peers", default="pgmq,pgq,graphile_worker,pg_boss")
    ap.add_argument("--workloads", default="W1,W2,W3,W4,W5,W6,W7,COST,SCHED,W8,IDLE,HB", help="comma-separated subset to run")
    ap.add_argument("--idle-burst", type=int, default=1_000_000, help="jobs drained before IDLE measures")
    ap.add_argument("--idle-seconds", type=int, default=60, help="IDLE's measuring window")
    ap.add_argument("--w6-scheduled", type=int, default=1_000_000)
    ap.add_argument("--w6-groups", type=int, default=100_000)
    ap.add_argument("--w7-rate", type=int, default=2000, help="jobs/s offered in W7")
    ap.add_argument("--w7-seconds", default="60,300,120", help="before,pinned,after")
    ap.add_argument("--w7-period", type=int, default=30)
    ap.add_argument("--w7-pins", default="xid,snapshot,slot")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    cluster = Cluster(args.host, args.port, args.db, args.pg_bin)
    peers = set(filter(None, args.peers.split(",")))
    names = QUICK_SYSTEMS if args.quick else [s.name for s in SQL_SYSTEMS if s.name in ("floor1", "floor2") or s.name.startswith("queue_ext") or s.name in peers]
    systems = [s for s in SQL_SYSTEMS if s.name in names]
    batches = (100,) if args.quick else (1, 100)
    syncs = (True,) if args.quick else (True, False)
    reps = 1 if args.quick else args.reps
    seconds = 2 if args.quick else args.seconds
    for s in systems:
        if s.setup_sql():
            cluster.psql(s.setup_sql())
    settings = dict(line.split("|", 1) for line in cluster.psql(
        "SELECT name || '|' || setting FROM pg_settings WHERE name IN ('shared_buffers', 'max_wal_size', 'checkpoint_timeout',"
        " 'wal_level', 'fsync', 'autovacuum', 'max_connections', 'work_mem', 'server_version') ORDER BY name").splitlines())
    settings["pgbench clients"] = args.clients
    settings["machine"] = f"{os.cpu_count()} CPUs, " + next(
        (l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")

    wanted = set(args.workloads.split(","))
    samples = []
    # Enough that no system runs dry in a timed run even at the fastest rate seen here (about
    # 100k jobs/s at B=100 with synchronous_commit off); later repetitions adapt it.
    first = 50_000 if args.quick else max(1_000_000, 150_000 * seconds)
    backlog_target = {(s.name, b): (first if b == 100 else 100_000) for s in systems for b in batches}
    started = time.time()
    for rep in range(1, reps + 1):
        for sync in syncs:
            for b in batches:
                for s in systems:
                    if s.w1 and "W1" in wanted:
                        v = w1(cluster, s, b, sync, seconds, args.clients)
                        samples.append({"workload": "W1", "system": s.name, "batch": b, "sync": sync, "rep": rep, "jobs_per_second": v})
                        print(f"rep {rep} W1 B={b} sync={'on' if sync else 'off'} {s.name}: {v:,.0f} jobs/s", flush=True)
                for s in systems:
                    if s.w2 and b in s.w2_batches and "W2" in wanted:
                        v, dry = w2(cluster, s, b, sync, seconds, args.clients, backlog_target)
                        samples.append({"workload": "W2", "system": s.name, "batch": b, "sync": sync, "rep": rep,
                                        "jobs_per_second": v, "ran_dry": dry})
                        print(f"rep {rep} W2 B={b} sync={'on' if sync else 'off'} {s.name}: {v:,.0f} jobs/s{' (RAN DRY)' if dry else ''}", flush=True)
            if not args.quick and sync and "W2" in wanted:
                for peer, batch in (("graphile_worker", 1), ("pg_boss", 100)):
                    if peer in peers:
                        script = "graphile" if peer == "graphile_worker" else "pgboss"
                        v = node_drain(cluster, script, 20_000, 4, batch)
                        samples.append({"workload": "W2", "system": peer, "batch": 100, "sync": True, "rep": rep, "jobs_per_second": v})
                        print(f"rep {rep} W2 (Node workers, 4 concurrent) {peer}: {v:,.0f} jobs/s", flush=True)

    extras = {}
    if "IDLE" in wanted:
        # Also in --quick (small), so that the suite runs it.
        extras["IDLE"] = workloads.idle(cluster, pgbench, args.clients, 20_000 if args.quick else args.idle_burst,
                                        3 if args.quick else args.idle_seconds)
    if not args.quick:
        if "HB" in wanted:
            extras["HB"] = workloads.heartbeat_cost(cluster, pgbench, seconds, args.clients)
        if args.latency_bin and "W3" in wanted:
            extras["W3"] = w3(cluster, args.latency_bin, 200, 10)
        if "W4" in wanted:
            extras["W4"] = workloads.w4(cluster, pgbench, seconds, args.clients, (1_000, 1_000_000), 1_000_000)
        if "W5" in wanted:
            extras["W5"] = workloads.w5(cluster, pgbench, args.soak_seconds, args.clients)
        if "COST" in wanted:
            extras["COST"] = workloads.write_cost(cluster)
        if "SCHED" in wanted:
            extras["SCHED"] = workloads.schedules(cluster)
        if "W6" in wanted:
            extras["W6"] = workloads.w6(cluster, pgbench, seconds, args.clients, args.w6_scheduled, args.w6_groups)
        if "W8" in wanted:
            extras["W8"] = workloads.w8(cluster)
        if "W7" in wanted:
            before, pin, after = (int(x) for x in args.w7_seconds.split(","))
            extras["W7"] = workloads.w7(cluster, pgbench, args.w7_rate, before, pin, after, args.w7_period,
                                        tuple(args.w7_pins.split(",")))

    rows = summarize(samples)
    verdicts = targets(rows, extras.get("W4"), extras.get("W5"), extras.get("W6"), extras.get("W7"), extras.get("W8"),
                       extras.get("IDLE"))
    print_report(rows, extras, verdicts, settings)
    result = {"quick": args.quick, "settings": settings, "elapsed_seconds": time.time() - started,
              "samples": samples, "summary": rows, "extras": extras, "targets": verdicts,
              "notes": {s.name: s.note for s in systems if s.note}}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"\nresults: {args.out}")
    if any(r["median"] <= 0 for r in rows):
        sys.exit("a system measured zero throughput")


if __name__ == "__main__":
    main()
