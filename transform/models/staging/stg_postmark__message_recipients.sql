-- One row per recipient of an outbound message (To, Cc and Bcc), in lower case.
with recipients as (
    select server_id, message_stream, message_id, {{ postmark_unnest_text('recipients') }} as recipient
    from {{ ref('stg_postmark__messages') }}
)
select distinct server_id, message_stream, message_id, lower(cast(recipient as varchar(1000))) as recipient
from recipients
