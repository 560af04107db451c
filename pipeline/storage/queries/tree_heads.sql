-- Signed tree heads, oldest first; `latest` = 1 gives only the newest.
SELECT tree_size, root_hash, timestamp, origin, key_id, signature, frontier
FROM {database:Identifier}.tree_heads
ORDER BY tree_size DESC, timestamp DESC
LIMIT if({latest:UInt8} = 1, 1, 18446744073709551615)
