-- One row per recipient of an outbound message (To, Cc and Bcc: messages_outbound's
-- Recipients), in lower case.
with latest as (
    {{ postmark_latest(postmark_source('messages_outbound'), ['ServerID', 'MessageID']) }}
),
recipients as (
    select
        cast("ServerID" as bigint) as server_id,
        cast("MessageStream" as varchar(255)) as message_stream,
        cast("MessageID" as varchar(64)) as message_id,
        {{ postmark_unnest_text('"Recipients"') }} as recipient
    from latest
)
select distinct server_id, message_stream, message_id, lower(cast(recipient as varchar(1000))) as recipient
from recipients
