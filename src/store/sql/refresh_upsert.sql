-- Create or replace spread refresh $1 (queue.create_spread_refresh). A new refresh starts at now: keys
-- whose slot in the current period has passed wait for the next period. A replaced one keeps
-- where it got to and its counters, unless its source or key changed (then it starts at now).
INSERT INTO queue.refreshes AS r (name, queue, source, key_column, period, payload, batch, priority, group_key,
                                  max_attempts, owner, enqueued_until)
VALUES ($1, $2, $3::oid::regclass, $4, $5, $6, $7, $8, $9, $10, $11::oid::regrole, now())
ON CONFLICT (name) DO UPDATE
   SET queue = excluded.queue, source = excluded.source, key_column = excluded.key_column,
       period = excluded.period, payload = excluded.payload, batch = excluded.batch, priority = excluded.priority,
       group_key = excluded.group_key, max_attempts = excluded.max_attempts, owner = excluded.owner,
       enqueued_until = CASE WHEN (r.source, r.key_column) = (excluded.source, excluded.key_column)
                             THEN r.enqueued_until ELSE now() END
