-- One row per click (messages_clicks). Clicks have no ID: the key is (ServerID, MessageID,
-- Recipient, ReceivedAt, OriginalLink), the tap's key properties.
with latest as (
    {{ postmark_latest(postmark_source('messages_clicks'), ['ServerID', 'MessageID', 'Recipient', 'ReceivedAt', 'OriginalLink']) }}
)
select
    cast("ServerID" as bigint) as server_id,
    cast("MessageStream" as varchar(255)) as message_stream,
    cast("MessageID" as varchar(64)) as message_id,
    cast("Recipient" as varchar(1000)) as recipient,
    cast("OriginalLink" as varchar(4000)) as original_link,
    {{ postmark_utc('"ReceivedAt"') }} as clicked_at,
    {{ postmark_eastern_date(postmark_utc('"ReceivedAt"')) }} as clicked_date_eastern,
    coalesce(cast("Tag" as varchar(1000)), '') as tag,
    cast("ClickLocation" as varchar(32)) as click_location,
    coalesce(cast("Platform" as varchar(64)), 'Unknown') as platform,
    coalesce({{ postmark_member('"Client"', 'Name') }}, 'unknown') as client_name,
    coalesce({{ postmark_member('"Client"', 'Family') }}, 'unknown') as client_family,
    coalesce({{ postmark_member('"OS"', 'Family') }}, 'unknown') as os_family
from latest
