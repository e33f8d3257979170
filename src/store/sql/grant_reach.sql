-- The roles a grant ($5 false) or revoke ($5 true) of privilege $3 on queue $1 to or from role $2,
-- made by role $4, reaches: $2 itself and every role that uses its privileges (a member that
-- inherits, at any depth), superusers aside (no grant restricts them). $2 comes first. For each:
--   base: one of queue_ext's base roles or a role PostgreSQL predefines (a grant to it would
--     restrict every role that holds it);
--   managed: $4 manages it: $4 is a superuser or the role itself, or the role is neither a
--     superuser nor a base role and $4 holds ADMIN OPTION on it, or has CREATEROLE (which in
--     PostgreSQL 15 may grant and alter every role but superusers);
--   restricts (a grant): the role holds no grant yet for a privilege the grant restricts ($3, or
--     all three for 'admin', which allows produce and consume too), so it would newly be confined;
--   lifts (a revoke): for such a privilege, the grant revoked is the last the role holds, so it
--     could use it on every queue afterwards, and $4 itself is restricted for it (it may not give
--     it on every queue).
WITH affected AS (
    SELECT unnest(CASE WHEN $3::text = 'admin' THEN ARRAY['produce', 'consume', 'admin'] ELSE ARRAY[$3::text] END)
           AS privilege
), granter AS (
    SELECT r.oid, r.rolsuper, r.rolcreaterole FROM pg_catalog.pg_roles r WHERE r.oid = $4::oid
), revoked AS (
    SELECT FROM queue.queue_grants gr
     WHERE $5::boolean AND gr.queue_id = $1::integer AND gr.grantee::oid = $2::oid AND gr.privilege = $3::text
), reached AS (
    SELECT r.oid, r.rolname::text AS name, r.rolsuper,
           r.rolname IN ('queue_admin', 'queue_producer', 'queue_worker', 'queue_maintainer')
               OR (r.oid < 16384 AND NOT r.rolsuper) AS base
      FROM pg_catalog.pg_roles r
     WHERE r.oid = $2::oid OR (NOT r.rolsuper AND pg_catalog.pg_has_role(r.oid, $2::oid, 'USAGE'))
)
SELECT x.name,
       x.base,
       g.rolsuper OR x.oid = g.oid
           OR (NOT x.rolsuper AND NOT x.base
               AND (g.rolcreaterole OR pg_catalog.pg_has_role(g.oid, x.oid, 'USAGE WITH ADMIN OPTION'))) AS managed,
       NOT $5::boolean AND NOT x.rolsuper AND EXISTS (
           SELECT FROM affected a
            WHERE NOT EXISTS (SELECT FROM queue.queue_grants gr
                               WHERE gr.privilege IN (a.privilege, 'admin')
                                 AND pg_catalog.pg_has_role(x.oid, gr.grantee::oid, 'USAGE'))) AS restricts,
       (SELECT a.privilege FROM affected a
         WHERE EXISTS (SELECT FROM revoked) AND NOT x.rolsuper AND NOT g.rolsuper
           AND NOT EXISTS (SELECT FROM queue.queue_grants gr
                            WHERE gr.privilege IN (a.privilege, 'admin')
                              AND NOT (gr.queue_id = $1::integer AND gr.grantee::oid = $2::oid AND gr.privilege = $3::text)
                              AND pg_catalog.pg_has_role(x.oid, gr.grantee::oid, 'USAGE'))
           AND EXISTS (SELECT FROM queue.queue_grants gr
                        WHERE gr.privilege IN (a.privilege, 'admin')
                          AND pg_catalog.pg_has_role(g.oid, gr.grantee::oid, 'USAGE'))
         LIMIT 1) AS lifts
  FROM reached x, granter g
 ORDER BY x.oid <> $2::oid, x.name
