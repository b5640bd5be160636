-- One row per outbound message: what became of it (delivery outcome, bounce, complaint,
-- unsubscribe) and how it was engaged with (first open, opens, clicks). Incremental: a run
-- recomputes the messages sent, opened, clicked or bounced since postmark_lookback_days before
-- the newest activity it already holds, so late events are counted.
{{ config(materialized='incremental', unique_key=['server_id', 'message_id'],
          incremental_strategy='delete+insert') }}

with messages as (
    select * from {{ ref('stg_postmark__messages') }}
),
opens as (
    select * from {{ ref('stg_postmark__opens') }}
),
clicks as (
    select * from {{ ref('stg_postmark__clicks') }}
),
bounces as (
    select * from {{ ref('stg_postmark__bounces') }}
),
{% if is_incremental() %}
since as (
    select max(last_activity_at) - {{ postmark_days(var('postmark_lookback_days')) }} as cutoff
    from {{ this }}
),
changed as (
    select server_id, message_id from messages where received_at >= (select cutoff from since)
    union
    select server_id, message_id from opens where opened_at >= (select cutoff from since)
    union
    select server_id, message_id from clicks where clicked_at >= (select cutoff from since)
    union
    select server_id, message_id from bounces where bounced_at >= (select cutoff from since)
),
{% endif %}
open_counts as (
    select server_id, message_id,
        count(*) as opens,
        count(distinct recipient) as unique_openers,
        min(opened_at) as first_opened_at,
        max(opened_at) as last_opened_at
    from opens
    group by server_id, message_id
),
click_counts as (
    select server_id, message_id,
        count(*) as clicks,
        count(distinct recipient) as unique_clickers,
        min(clicked_at) as first_clicked_at,
        max(clicked_at) as last_clicked_at
    from clicks
    group by server_id, message_id
),
bounce_counts as (
    select server_id, message_id,
        count(*) filter (where is_delivery_failure) as failures,
        count(*) filter (where is_spam_complaint) > 0 as is_spam_complaint,
        max(bounced_at) as last_bounced_at
    from bounces
    group by server_id, message_id
),
first_failure as (
    select server_id, message_id, bounce_type, is_hard, bounced_at from (
        select server_id, message_id, bounce_type, is_hard, bounced_at,
            row_number() over (partition by server_id, message_id order by bounced_at, bounce_id) as n
        from bounces
        where is_delivery_failure
    ) as failures
    where n = 1
),
unsubscribes as (
    select distinct r.server_id, r.message_id
    from {{ ref('stg_postmark__message_recipients') }} as r
    join {{ ref('stg_postmark__suppressions') }} as s
        on s.server_id = r.server_id and s.message_stream = r.message_stream
        and s.email = r.recipient and s.is_unsubscribe
    join messages as m on m.server_id = r.server_id and m.message_id = r.message_id
    where s.suppressed_at >= m.received_at
)
select
    m.server_id,
    m.message_stream,
    m.message_id,
    m.tag,
    m.subject,
    m.from_address,
    m.received_at,
    m.received_date_eastern,
    m.status,
    case
        when f.message_id is not null then 'bounced'
        when m.status = 'Queued' then 'queued'
        else 'delivered'
    end as delivery_outcome,
    f.bounce_type,
    coalesce(f.is_hard, false) as is_hard_bounce,
    f.bounced_at,
    coalesce(b.is_spam_complaint, false) as is_spam_complaint,
    u.message_id is not null as is_unsubscribed,
    o.first_opened_at,
    coalesce(o.opens, 0) as opens,
    coalesce(o.unique_openers, 0) as unique_openers,
    c.first_clicked_at,
    coalesce(c.clicks, 0) as clicks,
    coalesce(c.unique_clickers, 0) as unique_clickers,
    greatest(m.received_at, coalesce(o.last_opened_at, m.received_at),
        coalesce(c.last_clicked_at, m.received_at), coalesce(b.last_bounced_at, m.received_at))
        as last_activity_at
from messages as m
left join open_counts as o on o.server_id = m.server_id and o.message_id = m.message_id
left join click_counts as c on c.server_id = m.server_id and c.message_id = m.message_id
left join bounce_counts as b on b.server_id = m.server_id and b.message_id = m.message_id
left join first_failure as f on f.server_id = m.server_id and f.message_id = m.message_id
left join unsubscribes as u on u.server_id = m.server_id and u.message_id = m.message_id
{% if is_incremental() %}
where exists (select 1 from changed as ch where ch.server_id = m.server_id and ch.message_id = m.message_id)
{% endif %}
