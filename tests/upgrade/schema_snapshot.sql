-- A text description of everything queue_ext puts in a database, for comparing an upgraded
-- database with a fresh install (pg_dump --schema-only does not show an extension's members).
-- One row per fact, sorted; OIDs never appear, only names and definitions.
WITH ext AS (
    SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'queue_ext'
), members AS (
    SELECT d.classid, d.objid, d.objsubid FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), rels AS (
    SELECT c.oid, c.relname, c.relkind FROM pg_class c
     WHERE c.relnamespace = 'queue'::regnamespace
)
SELECT fact FROM (
    SELECT 'member ' || pg_describe_object(classid, objid, objsubid) AS fact FROM members
    UNION ALL
    SELECT format('column %s.%s #%s %s%s%s', r.relname, a.attname,
                  row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum),
                  format_type(a.atttypid, a.atttypmod),
                  CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                  coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), ''))
      FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = r.oid AND ad.adnum = a.attnum
     WHERE r.relkind IN ('r', 'v', 'c', 'p')
    UNION ALL
    SELECT format('constraint %s.%s %s', r.relname, con.conname, pg_get_constraintdef(con.oid))
      FROM rels r JOIN pg_constraint con ON con.conrelid = r.oid
    UNION ALL
    SELECT format('index %s', pg_get_indexdef(i.indexrelid)) FROM rels r JOIN pg_index i ON i.indrelid = r.oid
    UNION ALL
    SELECT format('reloptions %s %s', r.relname, c.reloptions) FROM rels r JOIN pg_class c ON c.oid = r.oid
     WHERE c.reloptions IS NOT NULL
    UNION ALL
    SELECT format('acl %s %s', r.relname, c.relacl) FROM rels r JOIN pg_class c ON c.oid = r.oid
    UNION ALL
    SELECT format('view %s %s', r.relname, pg_get_viewdef(r.oid)) FROM rels r WHERE r.relkind = 'v'
    UNION ALL
    SELECT format('sequence %s %s %s', r.relname, format_type(s.seqtypid, NULL), s.seqincrement)
      FROM rels r JOIN pg_sequence s ON s.seqrelid = r.oid
    UNION ALL
    SELECT format('trigger %s', pg_get_triggerdef(t.oid)) FROM rels r JOIN pg_trigger t ON t.tgrelid = r.oid
     WHERE NOT t.tgisinternal
    UNION ALL
    SELECT format('function %s', pg_get_functiondef(p.oid)) FROM pg_proc p
     WHERE p.pronamespace IN ('queue'::regnamespace, 'queue_internal'::regnamespace) AND p.prokind IN ('f', 'p')
    UNION ALL
    SELECT format('function acl %s %s', p.oid::regprocedure, p.proacl) FROM pg_proc p
     WHERE p.pronamespace IN ('queue'::regnamespace, 'queue_internal'::regnamespace)
    UNION ALL
    SELECT format('enum %s %s', t.typname, (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                                              FROM pg_enum e WHERE e.enumtypid = t.oid))
      FROM pg_type t WHERE t.typnamespace = 'queue'::regnamespace AND t.typtype = 'e'
    UNION ALL
    SELECT format('comment %s: %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description)
      FROM pg_description d
     WHERE (d.classoid, d.objoid) IN (SELECT classid, objid FROM members)
        OR (d.classoid = 'pg_class'::regclass AND d.objoid IN (SELECT oid FROM rels))
    UNION ALL
    SELECT format('extconfig %s %s', c::regclass, cond)
      FROM ext, unnest(ext.extconfig, ext.extcondition) AS u(c, cond)
    UNION ALL
    SELECT format('event trigger %s on %s %s %s', e.evtname, e.evtevent, e.evtfoid::regproc, e.evttags)
      FROM pg_event_trigger e
    UNION ALL
    SELECT format('schema acl %s %s', n.nspname, n.nspacl) FROM pg_namespace n WHERE n.nspname IN ('queue', 'queue_internal')
    UNION ALL
    SELECT format('row security %s %s %s', r.relname, c.relrowsecurity, c.relforcerowsecurity)
      FROM rels r JOIN pg_class c ON c.oid = r.oid WHERE c.relrowsecurity
    UNION ALL
    SELECT format('policy %s.%s %s %s %s %s', r.relname, p.polname, p.polcmd, p.polpermissive,
                  p.polroles::regrole[], pg_get_expr(p.polqual, p.polrelid))
      FROM rels r JOIN pg_policy p ON p.polrelid = r.oid
    UNION ALL
    SELECT format('role %s bypassrls %s', r.rolname, r.rolbypassrls) FROM pg_roles r WHERE r.rolname = 'queue_maintainer'
) AS facts
ORDER BY fact;
