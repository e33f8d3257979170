-- The queues role $1 sees (visibility.rs): one row per visible queue (id NULL when there is
-- none), with whether it sees them all (no grant exists, or it is a superuser) and whether $1 is a pg_monitor member.
WITH flags AS (
    SELECT NOT EXISTS (SELECT FROM queue.queue_grants)
               OR coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = $1), false) AS all_visible,
           pg_catalog.pg_has_role($1, 'pg_monitor', 'USAGE') AS monitor,
           pg_catalog.pg_has_role($1, 'queue_admin', 'USAGE') AS admin,
           pg_catalog.pg_has_role($1, 'queue_producer', 'USAGE') AS producer,
           pg_catalog.pg_has_role($1, 'queue_worker', 'USAGE') AS worker
)
SELECT q.id, f.all_visible, f.monitor
  FROM flags f
  LEFT JOIN queue.queues q
    ON NOT f.all_visible
   AND ((f.admin AND queue_internal.may(q.id, $1, 'admin'))
        OR (f.producer AND queue_internal.may(q.id, $1, 'produce'))
        OR (f.worker AND queue_internal.may(q.id, $1, 'consume')))
