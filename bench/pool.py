#!/usr/bin/env python3
"""queue_ext's background-worker benchmark: many databases, few worker slots (SPEC section 5).

Run through `bench/run --pool`, which installs the extension and starts a dedicated cluster
(max_worker_processes = 8, queue_ext.max_workers = 2, queue_ext.tick = 1s, autovacuum off,
track_commit_timestamp on, queue_ext.databases unset). It measures, in --dbs databases (100) that
all have the extension:

1. Cron lateness. In N of them (N = 1, 10, 100, spread evenly over the databases) schedule 'tick'
   fires every second (`queue.create_schedule('tick', '1 second', 'q')`, resumed for --seconds and
   paused again). A fired job records its intended fire time in run_at (the cron instant plus the
   schedule's jitter offset, here 0: src/periodic/schedules.rs, fire_one) and the start of the
   firing transaction in enqueued_at (`now()` in src/store/sql/insert_ready.sql). Lateness =
   enqueued_at - run_at; also reported: commit - run_at, when the job became claimable, from the
   commit timestamp of the row's xmin. Fires missing = whole seconds in the window minus jobs
   fired for them: a database no worker serves fires nothing, and a fire more than a second late
   catches up once for all the instants it missed (queue.schedules.misses counts the rest).
   Each database's first fire after resume_schedule is reported apart (first fire): with one
   worker per database (0.2.0) nothing told the worker that a schedule was resumed, so it learnt of
   it at its next tick; the pool is told at the resume's commit.
2. Promotion lateness. In the same N databases, jobs delayed to spread instants
   (`queue.enqueue('p', ..., run_at => t)`) go to queue.scheduled; the worker moves each to
   queue.ready when due and notifies channel queue_p. There is no promoted_at column: the moment of
   promotion is the commit timestamp of the promoting transaction, the xmin of the job's row in
   queue.ready (nothing else touches that row: nobody claims). Lateness = that commit - run_at.
   Cross-check: a LISTEN queue_p connection in --listen-dbs of the busy databases (the first busy
   one and others spread after it) records when each notification arrives; notify lateness =
   arrival - run_at. Missing = still in queue.scheduled --settle seconds after the last job came
   due.
3. Idle CPU. All databases with the extension and two empty queues, nothing due (no schedules, no
   jobs), no client connections, autovacuum off, for --idle-seconds: CPU of the extension = delta
   of the postmaster's cutime+cstime (children it reaped: short-lived workers) + delta of
   utime+stime of the postmaster's live children whose command line says queue_ext (per pid, from
   the start of the window to its end). In % of one core. Run before the busy phases, so that
   nothing was ever due in any database.

Lateness is measured against the server's clock, which is this machine's: the client reads it too
(notification arrival). The machine's load (os.getloadavg) is recorded with the results: the
figures mean little on a machine busy with something else.

Talks to the server through its Unix socket with a minimal client of the PostgreSQL protocol
(trust authentication, simple queries, notifications), the Python standard library only, as
bench.py needs no driver either.
"""
import argparse
import concurrent.futures
import json
import os
import random
import select
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# A minimal PostgreSQL client (protocol 3.0, simple query protocol, trust authentication).

class PgError(Exception):
    def __init__(self, fields):
        self.fields = fields
        super().__init__(f"{fields.get('S', 'ERROR')}: {fields.get('M', '?')} (SQLSTATE {fields.get('C', '?')})")


class Conn:
    def __init__(self, host, port, db, user="postgres", timeout=60):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(os.path.join(host, f".s.PGSQL.{port}"))
        self.buf = bytearray()
        self.backend_pid = None
        self.notifications = []  # (arrival, wall clock seconds; channel; payload)
        params = {"user": user, "database": db, "application_name": "queue_ext pool bench"}
        body = struct.pack("!i", 196608) + b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items()) + b"\0"
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)
        self._until_ready()

    def _recv(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _message(self):
        kind, length = struct.unpack("!ci", self._recv(5))
        body = self._recv(length - 4)
        if kind == b"A":
            pid = struct.unpack("!i", body[:4])[0]
            channel, payload = body[4:].split(b"\0")[:2]
            self.notifications.append((time.time(), channel.decode(), payload.decode()))
        return kind, body

    @staticmethod
    def _fields(body):
        fields = {}
        for part in body.split(b"\0"):
            if part:
                fields[chr(part[0])] = part[1:].decode(errors="replace")
        return fields

    def _until_ready(self):
        results, rows, error = [], [], None
        while True:
            kind, body = self._message()
            if kind == b"R":
                code = struct.unpack("!i", body[:4])[0]
                if code != 0:
                    raise RuntimeError(f"the server asks for authentication (method {code}): this benchmark needs trust")
            elif kind == b"K":
                self.backend_pid = struct.unpack("!i", body[:4])[0]
            elif kind == b"T":
                rows = []
                results.append(rows)
            elif kind == b"D":
                n = struct.unpack("!h", body[:2])[0]
                pos, row = 2, []
                for _ in range(n):
                    size = struct.unpack("!i", body[pos:pos + 4])[0]
                    pos += 4
                    if size < 0:
                        row.append(None)
                    else:
                        row.append(body[pos:pos + size].decode())
                        pos += size
                rows.append(tuple(row))
            elif kind == b"E":
                error = error or PgError(self._fields(body))
            elif kind == b"Z":
                if error:
                    raise error
                return results
            # S (parameter status), N (notice), C (command complete), I (empty), A: nothing to do

    def query(self, sql):
        """Run `sql` (one or more statements, one implicit transaction); the rows of the last result."""
        results = self.query_all(sql)
        return results[-1] if results else []

    def query_all(self, sql):
        """Run `sql`; the rows of each of its statements that returns rows."""
        data = sql.encode() + b"\0"
        self.sock.sendall(b"Q" + struct.pack("!i", len(data) + 4) + data)
        return self._until_ready()

    def scalar(self, sql):
        rows = self.query(sql)
        return rows[0][0] if rows else None

    def listen_forever(self, stop):
        """Record notifications (with their arrival time) until `stop` is set."""
        self.sock.settimeout(0.2)
        while not stop.is_set():
            try:
                self._message()
            except socket.timeout:
                continue
            except (OSError, ConnectionError):
                return

    def close(self):
        try:
            self.sock.settimeout(5)
            self.sock.sendall(b"X" + struct.pack("!i", 4))
        except OSError:
            pass
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# Processes of the server, from /proc.

def postmaster_pid(host, port):
    with open(os.path.join(host, f".s.PGSQL.{port}.lock")) as f:
        return int(f.readline())


def proc_stat(pid):
    """(ppid, utime+stime, cutime+cstime, starttime) in clock ticks, or None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()  # rest[i] is field i+3 of proc(5)
    return int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14]), int(rest[19])


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def children(pm):
    """{(pid, starttime): (cpu ticks, command line)} of the postmaster's children."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st and st[0] == pm:
            out[int(name), st[3]] = (st[1], cmdline(int(name)))
    return out


def is_ours(cmd):
    return "queue_ext" in cmd


def is_client_backend(cmd):
    return "[local]" in cmd


def wait_clients_gone(pm, keep=(), timeout=15):
    """Wait until the postmaster has no client backend but those in `keep` (their pids): the
    backends of connections we closed exit on their own, and their CPU must land in the
    postmaster's cutime before a window starts, not in it."""
    deadline = time.monotonic() + timeout
    for (pid, _), (_, cmd) in children(pm).items():
        if not is_client_backend(cmd) or pid in keep:
            continue
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            continue  # gone already
        try:
            select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(fd)
    # The postmaster reaps them (and adds their CPU to its cutime) when it gets SIGCHLD: wait for
    # the zombies to go too.
    while time.monotonic() < deadline:
        left = [pid for (pid, _), (_, cmd) in children(pm).items() if is_client_backend(cmd) and pid not in keep]
        if not left:
            return True
        time.sleep(0.02)
    return False


class CpuWindow:
    """CPU of queue_ext's processes over a window (see the module's docstring), sampled every
    `every` seconds in between to count the processes seen (short-lived ones may slip through)."""

    def __init__(self, pm, every=0.5):
        self.pm, self.every = pm, every
        self.stop_event = threading.Event()

    def __enter__(self):
        st = proc_stat(self.pm)
        self.pm0 = st
        self.kids0 = children(self.pm)
        self.known = {k for k, (_, cmd) in self.kids0.items() if is_ours(cmd)}
        self.ours0 = {k: v[0] for k, v in self.kids0.items() if k in self.known}
        self.max_alive = len(self.ours0)
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.stop_event.wait(self.every):
            alive = [k for k, (_, cmd) in children(self.pm).items() if is_ours(cmd)]
            self.known.update(alive)
            self.max_alive = max(self.max_alive, len(alive))

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join()
        seconds = time.monotonic() - self.t0
        pm1 = proc_stat(self.pm)
        kids1 = children(self.pm)
        # A zombie has no command line: a process matched once stays ours.
        ours1 = {k: v[0] for k, v in kids1.items() if is_ours(v[1]) or k in self.known}
        self.known.update(ours1)
        reaped = pm1[2] - self.pm0[2]
        live = sum(cpu - self.ours0.get(k, 0) for k, cpu in ours1.items())
        # A process alive at the start that exited: its whole CPU went into cutime, of which the
        # part before the window is not the window's.
        before = sum(cpu for k, cpu in self.ours0.items() if k not in ours1)
        others_live = sum(v[0] - self.kids0.get(k, (0,))[0] for k, v in kids1.items() if k not in ours1)
        ext = (reaped + live - before) / CLK_TCK
        total = (reaped + live - before + others_live + (pm1[1] - self.pm0[1])) / CLK_TCK
        self.result = {
            "seconds": round(seconds, 3),
            "extension_cpu_seconds": round(ext, 3),
            "extension_cpu_percent": round(100 * ext / seconds, 3),
            "reaped_children_cpu_seconds": round(reaped / CLK_TCK, 3),
            "live_queue_ext_cpu_seconds": round(live / CLK_TCK, 3),
            "before_window_cpu_of_exited_seconds": round(before / CLK_TCK, 3),
            "postmaster_own_cpu_seconds": round((pm1[1] - self.pm0[1]) / CLK_TCK, 3),
            "server_total_cpu_percent": round(100 * total / seconds, 3),
            "queue_ext_processes_at_start": len(self.ours0),
            "queue_ext_processes_at_end": sum(1 for k, v in kids1.items() if is_ours(v[1])),
            "queue_ext_processes_max_seen": self.max_alive,
            "queue_ext_pids_seen": len(self.known),
            "loadavg": os.getloadavg(),
        }
        return False


# ---------------------------------------------------------------------------------------------
# Statistics.

def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary_ms(values):
    if not values:
        return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None, "min_ms": None}
    return {"count": len(values), "min_ms": round(1000 * min(values), 1), "p50_ms": round(1000 * pct(values, 50), 1),
            "p99_ms": round(1000 * pct(values, 99), 1), "max_ms": round(1000 * max(values), 1)}


def spread(items, n):
    """n of `items`, evenly spread (the middle one for n = 1)."""
    n = min(n, len(items))
    return [items[int((i + 0.5) * len(items) / n)] for i in range(n)]


# ---------------------------------------------------------------------------------------------
# The benchmark.

class Bench:
    def __init__(self, args):
        self.args = args
        self.host, self.port = args.host, args.port
        self.pm = postmaster_pid(self.host, self.port)
        self.dbs = [f"{args.prefix}{i:03d}" for i in range(args.dbs)]
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.parallel)
        self.errors = []

    def conn(self, db="postgres"):
        return Conn(self.host, self.port, db)

    def run_in(self, db, sql):
        c = self.conn(db)
        try:
            return c.query(sql)
        finally:
            c.close()

    def each(self, dbs, fn):
        """fn(db) in every database of `dbs`, in parallel; {db: result}, errors recorded, not raised."""
        futures = {self.pool.submit(fn, db): db for db in dbs}
        out = {}
        for f in concurrent.futures.as_completed(futures):
            db = futures[f]
            try:
                out[db] = f.result()
            except Exception as e:  # noqa: BLE001 -- a benchmark records and carries on
                self.errors.append(f"{db}: {e}")
                out[db] = None
        return out

    def log(self, *what):
        print("  ", *what, file=sys.stderr, flush=True)

    # -- setup ------------------------------------------------------------------------------

    def settings(self):
        c = self.conn()
        try:
            rows = c.query("""
                SELECT name, setting FROM pg_settings
                 WHERE name IN ('max_worker_processes', 'max_connections', 'autovacuum', 'track_commit_timestamp',
                                'queue_ext.tick', 'queue_ext.databases', 'server_version')""")
            s = dict(rows)
            s["queue_ext.max_workers"] = c.scalar("SELECT current_setting('queue_ext.max_workers', true)")
            s["extension_default_version"] = c.scalar("SELECT default_version FROM pg_available_extensions WHERE name = 'queue_ext'")
        finally:
            c.close()
        # A library that defines queue_ext.max_workers has the pool; one that does not (it removes
        # the unknown setting of its reserved prefix at start) has one worker per database.
        s["model"] = "pool" if s["queue_ext.max_workers"] is not None else "per-database workers"
        try:
            root = os.path.dirname(HERE)
            s["git_commit"] = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
            # The last commit that changed the extension itself (what was measured, if installed
            # from this checkout), as opposed to the benchmark.
            s["extension_source_commit"] = subprocess.run(
                ["git", "-C", root, "log", "-1", "--format=%H", "--", "src", "sql", "Cargo.toml", "Cargo.lock", "queue_ext.control"],
                capture_output=True, text=True).stdout.strip()
            s["git_dirty"] = bool(subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                                                 capture_output=True, text=True).stdout.strip())
        except OSError:
            pass
        s["cpus"] = os.cpu_count()
        return s

    def setup(self):
        t = time.monotonic()
        c = self.conn()
        try:
            old = [r[0] for r in c.query(f"SELECT datname FROM pg_database WHERE datname LIKE '{self.args.prefix}%'")]
            for db in old:
                c.query(f'DROP DATABASE "{db}" WITH (FORCE)')
            for db in self.dbs:
                c.query(f'CREATE DATABASE "{db}"')
        finally:
            c.close()
        install = """
            CREATE EXTENSION queue_ext;
            SELECT queue.create_queue('q');
            SELECT queue.create_queue('p');"""
        # The first alone: it creates the extension's roles, which are the cluster's, and two
        # CREATE EXTENSIONs racing to create them would collide.
        self.run_in(self.dbs[0], install)
        self.each(self.dbs[1:], lambda db: self.run_in(db, install))
        self.log(f"{len(self.dbs)} databases with queue_ext and queues q and p in {time.monotonic() - t:.1f} s")

    def create_schedules(self):
        # Created paused (in one transaction): each phase resumes those of its busy databases.
        self.each(self.dbs, lambda db: self.run_in(db, """
            SELECT queue.create_schedule('tick', '1 second', 'q');
            SELECT queue.pause_schedule('tick');"""))

    # -- idle -------------------------------------------------------------------------------

    def idle(self):
        a = self.args
        self.log(f"idle: {len(self.dbs)} databases, nothing due; {a.idle_settle} s to settle, then {a.idle_seconds} s measured")
        if self.conn_scalar("SELECT current_setting('autovacuum')") != "off":
            self.log("warning: autovacuum is on: its workers' CPU lands in the postmaster's cutime too")
        wait_clients_gone(self.pm)
        time.sleep(a.idle_settle)
        if not wait_clients_gone(self.pm):
            self.log("warning: client backends still present at the start of the idle window")
        with CpuWindow(self.pm) as w:
            time.sleep(a.idle_seconds)
        r = w.result
        r["databases"] = len(self.dbs)
        return r

    def conn_scalar(self, sql, db="postgres"):
        rows = self.run_in(db, sql)
        return rows[0][0] if rows else None

    # -- busy: cron -------------------------------------------------------------------------

    def cron(self, n, busy):
        a = self.args

        def resume(db):
            rows = self.run_in(db, """
                SELECT queue.resume_schedule('tick');
                SELECT extract(epoch FROM now())::float8, fires, misses FROM queue.schedules WHERE name = 'tick';""")
            start, fires, misses = rows[0]
            return float(start), int(fires), int(misses)

        started = {db: r for db, r in self.each(busy, resume).items() if r}
        wait_clients_gone(self.pm)
        last_start = max((r[0] for r in started.values()), default=time.time())
        with CpuWindow(self.pm) as w:
            time.sleep(max(0.0, last_start + a.seconds - time.time()))
        time.sleep(a.settle)
        commit_ts = self.track_commit_timestamp

        def collect(db):
            start = started[db][0]
            end = start + a.seconds
            ts = "extract(epoch FROM pg_xact_commit_timestamp(r.xmin))::float8" if commit_ts else "NULL"
            c = self.conn(db)
            try:
                _, rows, counters = c.query_all(f"""
                    SELECT queue.pause_schedule('tick');
                    SELECT extract(epoch FROM r.run_at)::float8, extract(epoch FROM r.enqueued_at)::float8, {ts}
                      FROM queue.ready r
                     WHERE r.queue_id = (SELECT id FROM queue.queues WHERE name = 'q')
                       AND r.run_at > to_timestamp({start}) AND r.run_at <= to_timestamp({end});
                    SELECT fires, misses FROM queue.schedules WHERE name = 'tick';""")
            finally:
                c.close()
            counters = counters[0]
            return start, end, [tuple(None if v is None else float(v) for v in row) for row in rows], counters

        got = self.each(list(started), collect)
        expected = fired = served = 0
        late, visible, first_late = [], [], []
        misses_recorded = 0
        unserved, served_names = [], []
        for db, r in got.items():
            if not r:
                continue
            start, end, rows, (fires1, misses1) = r
            exp = int(end) - int(start)  # whole seconds s with start < s <= end
            expected += exp
            fired += len(rows)
            misses_recorded += int(misses1) - started[db][2]
            if rows:
                served += 1
                served_names.append(db)
            else:
                unserved.append(db)
            # The first fire after resume_schedule waits for the worker to learn of the schedule
            # (nothing wakes it): reported apart from the fires of a schedule it knows.
            rows.sort()
            for i, (run_at, enq, com) in enumerate(rows):
                if i == 0:
                    first_late.append(enq - run_at)
                    continue
                late.append(enq - run_at)
                if com is not None:
                    visible.append(com - run_at)
        return {
            "busy_databases": len(busy),
            "databases_measured": len(got),
            "databases_with_fires": served,
            "databases_with_fires_names": sorted(served_names)[:20],
            "databases_without_fires": sorted(unserved)[:20] + (["..."] if len(unserved) > 20 else []),
            "expected_fires": expected,
            "fires": fired,
            "missing_fires": expected - fired,
            "missing_percent": round(100 * (expected - fired) / expected, 1) if expected else None,
            "misses_recorded_by_extension": misses_recorded,
            "lateness_enqueued": summary_ms(late),
            "lateness_visible": summary_ms(visible),
            "lateness_first_fire": summary_ms(first_late),
            "cpu": w.result,
        }

    # -- busy: promotion --------------------------------------------------------------------

    def promotion(self, n, busy, tag):
        a = self.args
        per_db = a.jobs_per_db or max(20, 200 // max(1, len(busy)))
        rnd = random.Random(f"{a.seed}-{tag}")
        t0 = time.time()
        first, last = t0 + a.lead, t0 + a.lead + a.seconds
        plan = {db: sorted(rnd.uniform(first, last) for _ in range(per_db)) for db in busy}

        stop = threading.Event()
        listeners, threads = {}, []
        # The first busy database and others spread after it.
        listen = sorted({busy[i * len(busy) // min(a.listen_dbs, len(busy))] for i in range(min(a.listen_dbs, len(busy)))})
        for db in listen:
            try:
                c = self.conn(db)
                c.query("LISTEN queue_p")
                listeners[db] = c
                th = threading.Thread(target=c.listen_forever, args=(stop,), daemon=True)
                th.start()
                threads.append(th)
            except Exception as e:  # noqa: BLE001
                self.errors.append(f"{db}: LISTEN: {e}")

        def enqueue(db):
            times = ",".join(f"{t:.6f}" for t in plan[db])
            self.run_in(db, f"""
                SELECT count(queue.enqueue('p', jsonb_build_object('phase', '{tag}', 'i', i), run_at => to_timestamp(t)))
                  FROM unnest('{{{times}}}'::float8[]) WITH ORDINALITY AS u(t, i)""")
            return time.time()

        done = self.each(busy, enqueue)
        enqueued_by = max((v for v in done.values() if v), default=time.time())
        if enqueued_by > first:
            self.log(f"warning: enqueueing took until {enqueued_by - first:.2f} s past the first due time (raise --lead)")
        keep = {c.backend_pid for c in listeners.values()}
        wait_clients_gone(self.pm, keep)
        with CpuWindow(self.pm) as w:
            time.sleep(max(0.0, last - time.time()))
        time.sleep(a.settle)
        stop.set()
        for th in threads:
            th.join()
        for c in listeners.values():
            c.close()
        commit_ts = self.track_commit_timestamp

        def collect(db):
            ts = "extract(epoch FROM pg_xact_commit_timestamp(r.xmin))::float8" if commit_ts else "NULL"
            c = self.conn(db)
            try:
                rows, waiting = c.query_all(f"""
                    SELECT extract(epoch FROM r.run_at)::float8, extract(epoch FROM r.enqueued_at)::float8, {ts}
                      FROM queue.ready r
                     WHERE r.queue_id = (SELECT id FROM queue.queues WHERE name = 'p') AND r.payload->>'phase' = '{tag}';
                    SELECT count(*) FROM queue.scheduled
                     WHERE queue_id = (SELECT id FROM queue.queues WHERE name = 'p') AND payload->>'phase' = '{tag}';""")
            finally:
                c.close()
            return [tuple(None if v is None else float(v) for v in row) for row in rows], int(waiting[0][0])

        got = self.each(busy, collect)
        lat, notify_lat, delivery, served_names = [], [], [], []
        jobs = promoted = waiting = direct = served = 0
        for db, r in got.items():
            if not r:
                continue
            rows, left = r
            jobs += len(plan[db])
            waiting += left
            arrivals = sorted(t for t, ch, _ in listeners[db].notifications if ch == "queue_p") if db in listeners else None
            promoted_here = 0
            for run_at, enq, com in rows:
                if run_at <= enq:
                    direct += 1  # due before its enqueue committed: it went straight to ready
                    continue
                promoted += 1
                promoted_here += 1
                if com is not None:
                    lat.append(com - run_at)
                if arrivals:
                    # The notification of the transaction that promoted it: the first to arrive
                    # after that transaction's commit (or, without commit timestamps, after run_at).
                    after = com if com is not None else run_at
                    arrival = next((t for t in arrivals if t >= after), None)
                    if arrival is not None:
                        notify_lat.append(arrival - run_at)
                        if com is not None:
                            delivery.append(arrival - com)
            if promoted_here:
                served += 1
                served_names.append(db)
        return {
            "busy_databases": len(busy),
            "jobs_per_database": per_db,
            "jobs": jobs,
            "promoted": promoted,
            "not_promoted": waiting,
            "not_promoted_percent": round(100 * waiting / jobs, 1) if jobs else None,
            "went_straight_to_ready": direct,
            "databases_with_promotions": served,
            "databases_with_promotions_names": sorted(served_names)[:20],
            "lateness": summary_ms(lat),
            "listened_databases": sorted(listeners),
            "notifications": sum(len(c.notifications) for c in listeners.values()),
            "notify_lateness": summary_ms(notify_lat),
            "notify_delivery_after_commit": summary_ms(delivery),
            "cpu": w.result,
        }

    def busy(self):
        a = self.args
        self.track_commit_timestamp = self.conn_scalar("SELECT current_setting('track_commit_timestamp')") == "on"
        if not self.track_commit_timestamp:
            self.log("warning: track_commit_timestamp is off: no promotion lateness from commit timestamps")
        self.create_schedules()
        phases = []
        for n in a.ns:
            busy = spread(self.dbs, n)
            self.log(f"N = {len(busy)}: cron every second for {a.seconds} s")
            cron = self.cron(n, busy)
            self.log(f"N = {len(busy)}: delayed jobs over {a.seconds} s")
            promo = self.promotion(n, busy, f"n{n}")
            phases.append({"n": len(busy), "databases": busy if len(busy) <= 10 else f"{busy[0]} .. {busy[-1]} (every {len(self.dbs) // len(busy)})",
                           "cron": cron, "promotion": promo})
        return phases


# ---------------------------------------------------------------------------------------------
# Report.

def fmt(v, width=8, digits=1):
    if v is None:
        return "-".rjust(width)
    if isinstance(v, float):
        return f"{v:.{digits}f}".rjust(width)
    return str(v).rjust(width)


def print_report(result, before):
    s = result["settings"]
    print()
    print(f"queue_ext background workers: {s.get('model')}  (max_worker_processes {s.get('max_worker_processes')}, "
          f"queue_ext.max_workers {s.get('queue_ext.max_workers') or 'unknown to this library'}, tick {s.get('queue_ext.tick')} ms, "
          f"{result['databases']} databases, {s.get('cpus')} CPUs, commit {str(s.get('git_commit'))[:10]}{' dirty' if s.get('git_dirty') else ''})")
    bphases = {p["n"]: p for p in (before or {}).get("busy", [])}
    tag = lambda label: f"{label:<7}"  # noqa: E731
    if result.get("busy"):
        print()
        print(f"cron lateness: enqueued_at - run_at, schedule every second, {result['args']['seconds']} s per N; first fire after")
        print("resume_schedule apart (1st max); vis p99: commit - run_at")
        print(f"{'':7} {'N':>4} {'served':>7} {'expected':>9} {'fired':>7} {'missing':>8} {'miss %':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'vis p99':>8} {'1st max':>8}")
        rows = []
        for p in result["busy"]:
            rows.append(("now", p))
            if p["n"] in bphases:
                rows.append(("before", bphases[p["n"]]))
        for label, p in rows:
            c = p["cron"]
            print(f"{tag(label)} {p['n']:>4} {c['databases_with_fires']:>7} {c['expected_fires']:>9} {c['fires']:>7} {c['missing_fires']:>8}"
                  f" {fmt(c['missing_percent'], 7)} {fmt(c['lateness_enqueued']['p50_ms'])} {fmt(c['lateness_enqueued']['p99_ms'])}"
                  f" {fmt(c['lateness_enqueued']['max_ms'])} {fmt(c['lateness_visible']['p99_ms'])}"
                  f" {fmt(c.get('lateness_first_fire', {}).get('max_ms'))}")
        print()
        print("promotion lateness: commit of the promotion - run_at (notify: arrival at a LISTEN client - run_at)")
        print(f"{'':7} {'N':>4} {'served':>7} {'jobs':>7} {'promoted':>9} {'missing':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'ntf n':>6} {'ntf p50':>8} {'ntf p99':>8}")
        for label, p in rows:
            m = p["promotion"]
            print(f"{tag(label)} {p['n']:>4} {m['databases_with_promotions']:>7} {m['jobs']:>7} {m['promoted']:>9} {m['not_promoted']:>8}"
                  f" {fmt(m['lateness']['p50_ms'])} {fmt(m['lateness']['p99_ms'])} {fmt(m['lateness']['max_ms'])}"
                  f" {m['notify_lateness']['count']:>6} {fmt(m['notify_lateness']['p50_ms'])} {fmt(m['notify_lateness']['p99_ms'])}")
        print()
        print("extension CPU while busy (% of one core, cron window / promotion window)")
        for label, p in rows:
            print(f"{tag(label)} N = {p['n']:>3}: {p['cron']['cpu']['extension_cpu_percent']:.2f} % / {p['promotion']['cpu']['extension_cpu_percent']:.2f} %"
                  f"   (queue_ext processes seen: {p['cron']['cpu']['queue_ext_pids_seen']} / {p['promotion']['cpu']['queue_ext_pids_seen']})")
    if result.get("idle"):
        print()
        print("idle CPU: every database with the extension, nothing due, no client connections, autovacuum off")
        for label, i in [("now", result["idle"])] + ([("before", before["idle"])] if before and before.get("idle") else []):
            print(f"{tag(label)} {i['extension_cpu_percent']:.3f} % of one core over {i['seconds']:.0f} s: reaped children"
                  f" {i['reaped_children_cpu_seconds']:.2f} s + live queue_ext processes {i['live_queue_ext_cpu_seconds']:.2f} s"
                  f" - {i.get('before_window_cpu_of_exited_seconds', 0):.2f} s (exited ones, before the window)")
            print(f"{'':7} queue_ext processes: {i['queue_ext_processes_at_start']} at start, {i['queue_ext_processes_at_end']} at end,"
                  f" {i['queue_ext_pids_seen']} seen; postmaster itself {i['postmaster_own_cpu_seconds']:.2f} s;"
                  f" whole server {i['server_total_cpu_percent']:.2f} % of one core")
    if result.get("errors"):
        print()
        print(f"{len(result['errors'])} errors (first 5):")
        for e in result["errors"][:5]:
            print("  ", e)
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", required=True, help="the server's Unix socket directory")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--before", help="a pool.json of an earlier run (the per-database model) to show beside this one")
    ap.add_argument("--dbs", type=int, default=100, help="databases with the extension (default 100)")
    ap.add_argument("--prefix", default="pool_", help="their names' prefix (existing ones are dropped)")
    ap.add_argument("--ns", default="1,10,100", help="busy database counts, one phase each (default 1,10,100)")
    ap.add_argument("--seconds", type=float, default=30, help="length of each cron and promotion window (default 30)")
    ap.add_argument("--idle-seconds", type=float, default=60, help="length of the idle window (default 60)")
    ap.add_argument("--idle-settle", type=float, default=10, help="wait this long after setup before the idle window (default 10)")
    ap.add_argument("--settle", type=float, default=3, help="after a window, wait this long for late fires and promotions (default 3)")
    ap.add_argument("--lead", type=float, default=5, help="the first delayed job is due this long after enqueueing starts (default 5)")
    ap.add_argument("--jobs-per-db", type=int, default=0, help="delayed jobs per busy database (default max(20, 200/N))")
    ap.add_argument("--listen-dbs", type=int, default=4, help="busy databases with a LISTEN client (default 4)")
    ap.add_argument("--parallel", type=int, default=4, help="client connections at once for setup and collection (default 4)")
    ap.add_argument("--seed", default="queue_ext")
    ap.add_argument("--skip-idle", action="store_true")
    ap.add_argument("--skip-busy", action="store_true")
    args = ap.parse_args()
    args.ns = [int(x) for x in args.ns.split(",") if x.strip()]
    if any(n < 1 or n > args.dbs for n in args.ns):
        ap.error(f"--ns values must be between 1 and --dbs ({args.dbs})")

    started = time.monotonic()
    bench = Bench(args)
    result = {"args": {k: v for k, v in vars(args).items() if k not in ("out", "before")}, "settings": bench.settings(),
              "databases": args.dbs, "loadavg_start": os.getloadavg()}
    print(f"==> pool benchmark: {result['settings']['model']}, {args.dbs} databases", file=sys.stderr, flush=True)
    bench.setup()
    if not args.skip_idle:
        result["idle"] = bench.idle()
    if not args.skip_busy:
        result["busy"] = bench.busy()
    result["loadavg_end"] = os.getloadavg()
    result["errors"] = bench.errors
    result["runtime_seconds"] = round(time.monotonic() - started, 1)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    before = None
    if args.before and os.path.exists(args.before):
        with open(args.before) as f:
            before = json.load(f)
    print_report(result, before)
    print(f"results in {args.out} ({result['runtime_seconds']} s)")


if __name__ == "__main__":
    main()
