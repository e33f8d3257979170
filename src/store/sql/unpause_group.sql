-- resume_group's first statement: group $2 of queue $1 is no longer paused. Deleting the row waits
-- for the claims that are parking the group's jobs (they hold it FOR KEY SHARE), and keeps new ones
-- from parking any (claim.sql skips a locked row), so unpark_group.sql, run next, sees them all.
DELETE FROM queue.group_pauses WHERE queue_id = $1 AND group_key = $2
RETURNING 1
