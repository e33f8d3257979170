-- What queue.start_backfill needs to know about source $1 and its key: column $2 (NULL: the
-- one-column primary key), read by role $3. Returns the table's quoted name, its relkind, the key
-- column and its type (NULL when not found), whether the role may read it, and whether a btree
-- index leads with it.
WITH t AS (
    SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name, c.relkind::text AS kind
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = $1
), k AS (
    SELECT a.attnum, a.attname, a.atttypid
      FROM pg_catalog.pg_attribute a, t
     WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
       AND CASE WHEN $2::text IS NOT NULL THEN a.attname::text = $2::text
                ELSE a.attnum = (SELECT i.indkey[0] FROM pg_catalog.pg_index i
                                  WHERE i.indrelid = t.oid AND i.indisprimary AND i.indnatts = 1)
           END
)
SELECT t.name, t.kind, k.attname::text, pg_catalog.format_type(k.atttypid, NULL),
       k.attname IS NOT NULL
           AND (pg_catalog.has_table_privilege($3, t.oid, 'SELECT')
                OR pg_catalog.has_column_privilege($3, t.oid, k.attname::text, 'SELECT')),
       EXISTS (SELECT FROM pg_catalog.pg_index i
                 JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                 JOIN pg_catalog.pg_am am ON am.oid = ic.relam
                WHERE i.indrelid = t.oid AND i.indisvalid AND i.indpred IS NULL AND i.indkey[0] = k.attnum
                  AND am.amname = 'btree')
  FROM t LEFT JOIN k ON true
