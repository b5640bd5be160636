-- Per server, message stream, kind of engagement (open or click), email client or browser
-- family, platform and operating system: the events, the messages and recipients behind them.
with events as (
    select server_id, message_stream, 'open' as engagement, client_family, platform, os_family,
        message_id, recipient
    from {{ ref('stg_postmark__opens') }}
    union all
    select server_id, message_stream, 'click' as engagement, client_family, platform, os_family,
        message_id, recipient
    from {{ ref('stg_postmark__clicks') }}
)
select
    server_id, message_stream, engagement, client_family, platform, os_family,
    count(*) as events,
    count(distinct message_id) as messages,
    count(distinct recipient) as recipients
from events
group by server_id, message_stream, engagement, client_family, platform, os_family
