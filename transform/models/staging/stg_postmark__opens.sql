-- One row per open (messages_opens). Opens have no ID: the key is (ServerID, MessageID,
-- Recipient, ReceivedAt), the tap's key properties.
with latest as (
    {{ postmark_latest(postmark_source('messages_opens'), ['ServerID', 'MessageID', 'Recipient', 'ReceivedAt']) }}
)
select
    cast("ServerID" as bigint) as server_id,
    cast("MessageStream" as varchar(255)) as message_stream,
    cast("MessageID" as varchar(64)) as message_id,
    cast("Recipient" as varchar(1000)) as recipient,
    {{ postmark_utc('"ReceivedAt"') }} as opened_at,
    {{ postmark_eastern_date(postmark_utc('"ReceivedAt"')) }} as opened_date_eastern,
    coalesce(cast("FirstOpen" as boolean), false) as is_first_open,
    coalesce(cast("Tag" as varchar(1000)), '') as tag,
    coalesce(cast("Platform" as varchar(64)), 'Unknown') as platform,
    coalesce({{ postmark_member('"Client"', 'Name') }}, 'unknown') as client_name,
    coalesce({{ postmark_member('"Client"', 'Family') }}, 'unknown') as client_family,
    coalesce({{ postmark_member('"OS"', 'Family') }}, 'unknown') as os_family,
    {{ postmark_member('"Geo"', 'CountryISOCode') }} as country_code,
    cast("ReadSeconds" as bigint) as read_seconds
from latest
