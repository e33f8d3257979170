"""The systems under benchmark: how each is set up, filled and driven through pgbench.

Every SQL-level system is driven by pgbench scripts (-M prepared, same clients), so client
overhead is identical; the Node peers run their own workers (node/*.mjs).
"""

PAYLOAD = "'{\"n\": 1}'::jsonb"
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


class System:
    name = ""
    label = ""
    note = ""
    w1 = False          # has an enqueue workload
    w2 = False          # has a drain workload
    w2_batches = (1, 100)
    clients = None      # None: the run's default

    def setup_sql(self):
        return ""

    def enqueue_script(self, b):
        raise NotImplementedError

    def fill_sql(self, n):
        """SQL that adds n jobs to the backlog (not timed)."""
        raise NotImplementedError

    def drain_script(self, b):
        raise NotImplementedError

    def drain_defines(self):
        return {}

    def backlog_sql(self):
        """SQL returning the number of jobs waiting."""
        raise NotImplementedError


class Floor1(System):
    name, label = "floor1", "FLOOR-1 bare DELETE ... SKIP LOCKED (at-most-once)"
    w1 = w2 = True

    def setup_sql(self):
        return "DROP TABLE IF EXISTS bench_floor1; CREATE TABLE bench_floor1 (id bigserial PRIMARY KEY, payload jsonb NOT NULL);"

    def enqueue_script(self, b):
        return f"INSERT INTO bench_floor1 (payload) SELECT {PAYLOAD} FROM generate_series(1, {b});\n"

    def fill_sql(self, n):
        return f"INSERT INTO bench_floor1 (payload) SELECT {PAYLOAD} FROM generate_series(1, {n});"

    def drain_script(self, b):
        return (f"DELETE FROM bench_floor1 f USING (SELECT id FROM bench_floor1 ORDER BY id LIMIT {b} FOR UPDATE SKIP LOCKED) s\n"
                f" WHERE f.id = s.id;\n")

    def backlog_sql(self):
        return "SELECT count(*) FROM bench_floor1"


class Floor2(System):
    name, label = "floor2", "FLOOR-2 bare two-phase lease (at-least-once)"
    w2 = True

    def setup_sql(self):
        return ("DROP TABLE IF EXISTS bench_floor2; CREATE TABLE bench_floor2 (id bigserial PRIMARY KEY, payload jsonb NOT NULL,"
                " lease_until timestamptz NOT NULL DEFAULT '-infinity');")

    def fill_sql(self, n):
        return f"INSERT INTO bench_floor2 (payload) SELECT {PAYLOAD} FROM generate_series(1, {n});"

    def drain_script(self, b):
        return ("WITH c AS (UPDATE bench_floor2 f SET lease_until = now() + interval '30 seconds'\n"
                f"  FROM (SELECT id FROM bench_floor2 WHERE lease_until < now() ORDER BY id LIMIT {b} FOR UPDATE SKIP LOCKED) s\n"
                "  WHERE f.id = s.id RETURNING f.id)\n"
                "SELECT coalesce(array_agg(id), '{}') AS ids FROM c \\gset\n"
                "DELETE FROM bench_floor2 WHERE id = ANY(:ids::bigint[]);\n")

    def backlog_sql(self):
        return "SELECT count(*) FROM bench_floor2"


class QueueExt(System):
    name, label = "queue_ext", "queue_ext claim + complete_many (two commits per batch)"
    queue = "bench"
    create_options = ""  # named arguments for create_queue
    w1 = w2 = True

    def setup_sql(self):
        return (f"SELECT queue.drop_queue(name, force => true) FROM queue.queues WHERE name = '{self.queue}';"
                f" SELECT queue.create_queue('{self.queue}'{self.create_options});")

    def enqueue_script(self, b):
        if b == 1:
            return f"SELECT queue.enqueue('{self.queue}', {PAYLOAD});\n"
        return f"SELECT count(*) FROM queue.enqueue_many('{self.queue}', array_fill({PAYLOAD}, ARRAY[{b}]));\n"

    def fill_sql(self, n):
        chunks, rest = divmod(n, 100_000)
        sizes = [100_000] * chunks + ([rest] if rest else [])
        return "\n".join(f"SELECT count(*) FROM queue.enqueue_many('{self.queue}', array_fill({PAYLOAD}, ARRAY[{k}]));" for k in sizes)

    def claim_sql(self, b, extra=""):
        return (f"SELECT coalesce(array_agg(id), '{{}}') AS ids, coalesce(min(lease_token::text), '{ZERO_UUID}') AS tok\n"
                f"  FROM queue.claim('{self.queue}', batch => {b}{extra}) \\gset\n")

    def drain_script(self, b):
        return self.claim_sql(b) + "SELECT count(*) FROM queue.complete_many(:ids::bigint[], ARRAY[:tok]::uuid[]);\n"

    def backlog_sql(self):
        return f"SELECT count(*) FROM queue.jobs WHERE queue = '{self.queue}' AND state = 'pending'"


class QueueExtForget(QueueExt):
    name, label = "queue_ext_forget", "queue_ext with retention 0 (completed jobs deleted, as pgmq and the floors do)"
    queue = "bench_forget"
    create_options = ", retention => '0'"
    w1 = False


class QueueExtQuiet(QueueExt):
    name, label = "queue_ext_quiet", "queue_ext enqueue with notify off"
    queue = "bench_quiet"
    create_options = ", notify => false"
    w2 = False


class QueueExtRoundTrip(QueueExtForget):
    name, label = "queue_ext_rt", "queue_ext one round trip (claim completes the previous batch), retention 0"

    def setup_sql(self):
        return ""  # shares queue_ext_forget's queue

    def drain_script(self, b):
        return self.claim_sql(b, ", complete => :ids::bigint[], complete_token => :tok::uuid")

    def drain_defines(self):
        return {"ids": "{}", "tok": ZERO_UUID}


class Pgmq(System):
    name, label = "pgmq", "pgmq (SQL from the PyPI wheel) send_batch / read / delete"
    w1 = w2 = True

    def setup_sql(self):
        return ("SELECT pgmq.drop_queue('bench') FROM pgmq.meta WHERE queue_name = 'bench';"
                " SELECT pgmq.create('bench');")

    def enqueue_script(self, b):
        if b == 1:
            return f"SELECT pgmq.send('bench', {PAYLOAD});\n"
        return f"SELECT count(*) FROM pgmq.send_batch('bench', array_fill({PAYLOAD}, ARRAY[{b}]));\n"

    def fill_sql(self, n):
        return f"INSERT INTO pgmq.q_bench (vt, message) SELECT clock_timestamp(), {PAYLOAD} FROM generate_series(1, {n});"

    def drain_script(self, b):
        return (f"SELECT coalesce(array_agg(msg_id), '{{}}') AS ids FROM pgmq.read('bench', 30, {b}) \\gset\n"
                "SELECT pgmq.delete('bench', :ids::bigint[]);\n")

    def backlog_sql(self):
        return "SELECT count(*) FROM pgmq.q_bench"


class Pgq(System):
    name, label = "pgq", "PGQ (Debian pgq3) insert_event / batch consumer"
    note = "PGQ hands out batches between ticks to one consumer at a time (fan-out log, not competing consumers): drained by 1 client"
    w1 = w2 = True
    w2_batches = (100,)
    clients = 1

    def setup_sql(self):
        return ("SELECT pgq.unregister_consumer('bench', 'bench_consumer') FROM pgq.queue WHERE queue_name = 'bench';"
                " SELECT pgq.drop_queue('bench') FROM pgq.queue WHERE queue_name = 'bench';"
                " SELECT pgq.create_queue('bench'); SELECT pgq.set_queue_config('bench', 'ticker_max_count', '100');"
                " SELECT pgq.register_consumer('bench', 'bench_consumer');"
                " CREATE OR REPLACE PROCEDURE bench_pgq_fill(n int) LANGUAGE plpgsql AS $$"
                " BEGIN FOR i IN 1..n / 100 LOOP"
                f"   PERFORM pgq.insert_event('bench', 'job', {PAYLOAD}::text) FROM generate_series(1, 100); COMMIT;"
                "   PERFORM pgq.ticker('bench'); COMMIT;"
                " END LOOP; END $$;")

    def enqueue_script(self, b):
        return f"SELECT count(pgq.insert_event('bench', 'job', {PAYLOAD}::text)) FROM generate_series(1, {b});\n"

    def fill_sql(self, n):
        return f"CALL bench_pgq_fill({n});"

    def drain_script(self, b):
        return ("SELECT coalesce(pgq.next_batch('bench', 'bench_consumer'), 0) AS bid \\gset\n"
                "\\if :bid\n"
                "SELECT count(*) FROM pgq.get_batch_events(:bid);\n"
                "SELECT pgq.finish_batch(:bid);\n"
                "\\endif\n")

    def backlog_sql(self):
        return "SELECT coalesce(sum(pending_events), 0) FROM pgq.get_consumer_info('bench', 'bench_consumer')"


SQL_SYSTEMS = [Floor1(), Floor2(), QueueExt(), QueueExtForget(), QueueExtQuiet(), QueueExtRoundTrip(), Pgmq(), Pgq()]
QUICK_SYSTEMS = ["floor1", "floor2", "queue_ext", "queue_ext_forget", "queue_ext_rt"]
