-- Per server, message stream, bounce type and recipient domain: the bounces, the recipients
-- they came from (and how many of those are inactive now), first and last.
select
    server_id,
    message_stream,
    bounce_type,
    recipient_domain,
    bool_or(is_delivery_failure) as is_delivery_failure,
    bool_or(is_hard) as is_hard,
    count(*) as bounces,
    count(distinct email) as recipients,
    count(distinct case when is_inactive then email end) as inactive_recipients,
    min(bounced_at) as first_bounced_at,
    max(bounced_at) as last_bounced_at
from {{ ref('stg_postmark__bounces') }}
group by server_id, message_stream, bounce_type, recipient_domain
