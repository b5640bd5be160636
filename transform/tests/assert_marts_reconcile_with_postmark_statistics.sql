-- Fails with the complete days on which a mart's count differs from Postmark's own statistics
-- by more than postmark_reconciliation_tolerance (a share of Postmark's count; 0: equal).
select server_id, message_stream, stats_date, measure, marts_count, postmark_count, difference
from {{ ref('postmark__reconciliation') }}
where is_complete_day and is_off
