-- Postmark's own daily counts per server, message stream and US-Eastern day
-- (stats_outbound_overview): the figures the marts are reconciled with. With the tap's
-- stats_tags setting the stream also holds per-tag rows; only the rows of all messages
-- (no Tag, or Tag '') are kept here.
with source as (
    select * from {{ postmark_source('stats_outbound_overview') }} as loaded
),
untagged as (
    select * from source
    {% if postmark_has_column('stats_outbound_overview', 'Tag') %}
    where coalesce("Tag", '') = ''
    {% endif %}
),
latest as (
    {{ postmark_latest('untagged', ['ServerID', 'MessageStream', 'Date']) }}
)
select
    cast("ServerID" as bigint) as server_id,
    cast("MessageStream" as varchar(255)) as message_stream,
    cast("Date" as date) as stats_date,
    cast("Sent" as bigint) as sent,
    cast("Bounced" as bigint) as bounced,
    cast("SMTPApiErrors" as bigint) as smtp_api_errors,
    cast("SpamComplaints" as bigint) as spam_complaints,
    cast("Opens" as bigint) as opens,
    cast("UniqueOpens" as bigint) as unique_opens,
    cast("TotalClicks" as bigint) as clicks,
    cast("UniqueLinksClicked" as bigint) as unique_clicks,
    cast("Tracked" as bigint) as tracked
from latest
