-- Of jobs $1 with lease tokens $2 (arrays of one length), those an earlier call already completed
-- under that very token (a complete repeated after its reply was lost): kept in queue.done with
-- the token. Only asked about the jobs a complete did not find running, by queue.done's BRIN index
-- on id. A queue with retention '0' keeps no done jobs, so there it finds none. $3 is the acting
-- role when per-queue grants exist (else NULL): only jobs of queues it may consume from count.
SELECT DISTINCT d.id
  FROM queue.done d JOIN unnest($1::bigint[], $2::uuid[]) AS c(id, token)
    ON d.id = c.id AND d.lease_token = c.token AND d.state = 'done'
 WHERE $3::oid IS NULL OR queue_internal.may(d.queue_id, $3::oid, 'consume')
