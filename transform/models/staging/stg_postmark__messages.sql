-- One row per outbound message (messages_outbound), its latest read.
with latest as (
    {{ postmark_latest(postmark_source('messages_outbound'), ['ServerID', 'MessageID']) }}
)
select
    cast("ServerID" as bigint) as server_id,
    cast("MessageStream" as varchar(255)) as message_stream,
    cast("MessageID" as varchar(64)) as message_id,
    {{ postmark_utc('"ReceivedAt"') }} as received_at,
    {{ postmark_eastern_date(postmark_utc('"ReceivedAt"')) }} as received_date_eastern,
    cast("Status" as varchar(32)) as status,
    coalesce(cast("Tag" as varchar(1000)), '') as tag,
    cast("Subject" as varchar(2000)) as subject,
    cast("From" as varchar(1000)) as from_address,
    cast("TrackOpens" as boolean) as track_opens,
    cast("TrackLinks" as varchar(32)) as track_links,
    -- To, Cc and Bcc, as the loader stores a list (one row each: stg_postmark__message_recipients).
    "Recipients" as recipients
from latest
