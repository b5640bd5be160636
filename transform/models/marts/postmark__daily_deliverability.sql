-- Per server, message stream, tag ('' for untagged messages) and US-Eastern day, as Postmark
-- files its statistics: the messages sent that day and how many of them were delivered; the
-- bounces, complaints, opens and clicks that happened that day; and their rates. `bounced`
-- counts delivery failures (hard and soft); `bounce_events` every bounce record but spam
-- complaints and SMTP API errors, auto-replies and spam notifications included, as Postmark's
-- own `Bounced` does (it counts SMTP API errors apart: `smtp_api_errors`). Incremental:
-- a run recomputes the days from postmark_lookback_days before the newest day it holds.
{{ config(materialized='incremental',
          unique_key=['server_id', 'message_stream', 'tag', 'activity_date'],
          incremental_strategy='delete+insert') }}

with messages as (
    select server_id, message_stream, tag, received_date_eastern as activity_date,
        count(*) as sent,
        count(*) filter (where delivery_outcome = 'delivered') as delivered
    from {{ ref('postmark__messages') }}
    group by server_id, message_stream, tag, received_date_eastern
),
bounces as (
    select server_id, message_stream, tag, bounced_date_eastern as activity_date,
        count(*) filter (where is_delivery_failure) as bounced,
        count(*) filter (where is_delivery_failure and is_hard) as hard_bounced,
        count(*) filter (where is_delivery_failure and not is_hard) as soft_bounced,
        count(*) filter (where is_spam_complaint) as spam_complaints,
        count(*) filter (where not is_spam_complaint and bounce_type <> 'SMTPApiError')
            as bounce_events,
        count(*) filter (where bounce_type = 'SMTPApiError') as smtp_api_errors
    from {{ ref('stg_postmark__bounces') }}
    group by server_id, message_stream, tag, bounced_date_eastern
),
opens as (
    select server_id, message_stream, tag, opened_date_eastern as activity_date,
        count(*) as opens,
        count(*) filter (where is_first_open) as unique_opens
    from {{ ref('stg_postmark__opens') }}
    group by server_id, message_stream, tag, opened_date_eastern
),
ranked_clicks as (
    select server_id, message_stream, tag, clicked_date_eastern,
        row_number() over (partition by server_id, message_id, recipient, original_link
                           order by clicked_at) as nth
    from {{ ref('stg_postmark__clicks') }}
),
clicks as (
    select server_id, message_stream, tag, clicked_date_eastern as activity_date,
        count(*) as clicks,
        count(*) filter (where nth = 1) as unique_clicks
    from ranked_clicks
    group by server_id, message_stream, tag, clicked_date_eastern
),
days as (
    select server_id, message_stream, tag, activity_date from messages
    union select server_id, message_stream, tag, activity_date from bounces
    union select server_id, message_stream, tag, activity_date from opens
    union select server_id, message_stream, tag, activity_date from clicks
),
counts as (
    select
        d.server_id, d.message_stream, d.tag, d.activity_date,
        coalesce(m.sent, 0) as sent,
        coalesce(m.delivered, 0) as delivered,
        coalesce(b.bounced, 0) as bounced,
        coalesce(b.hard_bounced, 0) as hard_bounced,
        coalesce(b.soft_bounced, 0) as soft_bounced,
        coalesce(b.spam_complaints, 0) as spam_complaints,
        coalesce(b.bounce_events, 0) as bounce_events,
        coalesce(b.smtp_api_errors, 0) as smtp_api_errors,
        coalesce(o.opens, 0) as opens,
        coalesce(o.unique_opens, 0) as unique_opens,
        coalesce(c.clicks, 0) as clicks,
        coalesce(c.unique_clicks, 0) as unique_clicks
    from days as d
    left join messages as m using (server_id, message_stream, tag, activity_date)
    left join bounces as b using (server_id, message_stream, tag, activity_date)
    left join opens as o using (server_id, message_stream, tag, activity_date)
    left join clicks as c using (server_id, message_stream, tag, activity_date)
)
select
    *,
    {{ postmark_rate('delivered', 'sent') }} as delivery_rate,
    {{ postmark_rate('bounced', 'sent') }} as bounce_rate,
    {{ postmark_rate('spam_complaints', 'sent') }} as spam_complaint_rate,
    {{ postmark_rate('unique_opens', 'sent') }} as unique_open_rate,
    {{ postmark_rate('unique_clicks', 'sent') }} as unique_click_rate
from counts
{% if is_incremental() %}
where activity_date >= (select max(activity_date) from {{ this }}) - {{ var('postmark_lookback_days') }}
{% endif %}
