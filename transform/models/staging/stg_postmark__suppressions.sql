-- One row per suppressed recipient of a message stream (suppressions, as last read).
-- ManualSuppression with Origin Recipient is an unsubscribe.
with latest as (
    {{ postmark_latest(postmark_source('suppressions'), ['ServerID', 'MessageStream', 'EmailAddress']) }}
)
select
    cast("ServerID" as bigint) as server_id,
    cast("MessageStream" as varchar(255)) as message_stream,
    lower(cast("EmailAddress" as varchar(1000))) as email,
    cast("SuppressionReason" as varchar(64)) as reason,
    cast("Origin" as varchar(64)) as origin,
    {{ postmark_utc('"CreatedAt"') }} as suppressed_at,
    cast("SuppressionReason" as varchar(64)) = 'ManualSuppression'
        and cast("Origin" as varchar(64)) = 'Recipient' as is_unsubscribe
from latest
