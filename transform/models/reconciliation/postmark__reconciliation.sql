-- The marts' daily counts against Postmark's own (stats_outbound_overview), per server,
-- message stream, US-Eastern day and measure. A day is complete when the loaded messages
-- cover it whole: after the first day that has a message (a sync starts mid-day, and
-- retention drops the oldest messages while statistics stay) and before the last day of the
-- statistics (the sync's own day: its last minutes are read by the next sync).
with marts as (
    select server_id, message_stream, activity_date,
        sum(sent) as sent, sum(bounce_events) as bounced, sum(smtp_api_errors) as smtp_api_errors, sum(spam_complaints) as spam_complaints,
        sum(opens) as opens, sum(unique_opens) as unique_opens,
        sum(clicks) as clicks, sum(unique_clicks) as unique_clicks
    from {{ ref('postmark__daily_deliverability') }}
    group by server_id, message_stream, activity_date
),
stats as (
    select * from {{ ref('stg_postmark__stats_overview') }}
),
covered as (
    select s.server_id, s.message_stream, m.first_day, s.last_day
    from (select server_id, message_stream, max(stats_date) as last_day from stats
          group by server_id, message_stream) as s
    left join (select server_id, message_stream, min(received_date_eastern) as first_day
               from {{ ref('stg_postmark__messages') }}
               group by server_id, message_stream) as m
        on m.server_id = s.server_id and m.message_stream = s.message_stream
),
paired as (
    select s.server_id, s.message_stream, s.stats_date,
        s.sent as stats_sent, coalesce(m.sent, 0) as marts_sent,
        s.bounced as stats_bounced, coalesce(m.bounced, 0) as marts_bounced,
        s.smtp_api_errors as stats_smtp_api_errors, coalesce(m.smtp_api_errors, 0) as marts_smtp_api_errors,
        s.spam_complaints as stats_spam_complaints, coalesce(m.spam_complaints, 0) as marts_spam_complaints,
        s.opens as stats_opens, coalesce(m.opens, 0) as marts_opens,
        s.unique_opens as stats_unique_opens, coalesce(m.unique_opens, 0) as marts_unique_opens,
        s.clicks as stats_clicks, coalesce(m.clicks, 0) as marts_clicks,
        s.unique_clicks as stats_unique_clicks, coalesce(m.unique_clicks, 0) as marts_unique_clicks,
        c.first_day is not null and s.stats_date > c.first_day and s.stats_date < c.last_day
            as is_complete_day
    from stats as s
    join covered as c on c.server_id = s.server_id and c.message_stream = s.message_stream
    left join marts as m
        on m.server_id = s.server_id and m.message_stream = s.message_stream
        and m.activity_date = s.stats_date
),
measures as (
    {% for measure in ['sent', 'bounced', 'smtp_api_errors', 'spam_complaints', 'opens', 'unique_opens', 'clicks', 'unique_clicks'] %}
    select server_id, message_stream, stats_date, is_complete_day,
        '{{ measure }}' as measure, marts_{{ measure }} as marts_count, stats_{{ measure }} as postmark_count
    from paired
    {{ "union all" if not loop.last }}
    {% endfor %}
)
select
    *,
    marts_count - postmark_count as difference,
    abs(marts_count - postmark_count) > {{ var('postmark_reconciliation_tolerance') }} * postmark_count
        as is_off
from measures
