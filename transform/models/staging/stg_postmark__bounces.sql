-- One row per bounce (bounces), its latest read (Inactive and CanActivate change after the
-- fact). Spam complaints are bounces of type SpamComplaint.
with latest as (
    {{ postmark_latest(postmark_source('bounces'), ['ServerID', 'ID']) }}
)
select
    cast("ServerID" as bigint) as server_id,
    cast("MessageStream" as varchar(255)) as message_stream,
    cast("ID" as bigint) as bounce_id,
    cast("MessageID" as varchar(64)) as message_id,
    cast("Type" as varchar(64)) as bounce_type,
    cast("TypeCode" as bigint) as type_code,
    cast("Name" as varchar(255)) as bounce_name,
    cast("Description" as varchar(2000)) as description,
    lower(cast("Email" as varchar(1000))) as email,
    lower(substr(cast("Email" as varchar(1000)), position('@' in cast("Email" as varchar(1000))) + 1)) as recipient_domain,
    {{ postmark_utc('"BouncedAt"') }} as bounced_at,
    {{ postmark_eastern_date(postmark_utc('"BouncedAt"')) }} as bounced_date_eastern,
    coalesce(cast("Tag" as varchar(1000)), '') as tag,
    cast("Inactive" as boolean) as is_inactive,
    cast("CanActivate" as boolean) as can_activate,
    cast("Type" as varchar(64)) = 'SpamComplaint' as is_spam_complaint,
    -- The types that end delivery (Postmark's failures before the message reached the inbox).
    -- Not failures: what comes back from a delivered message (an auto-reply, a spam
    -- notification, a complaint, a challenge) and Transient, a delay ("message delayed":
    -- the receiving server may still take it).
    cast("Type" as varchar(64)) not in ('SpamComplaint', 'AutoResponder', 'SpamNotification',
        'OpenRelayTest', 'ChallengeVerification', 'Subscribe', 'Unsubscribe', 'Transient')
        as is_delivery_failure,
    -- Hard: the address is bad for good; soft: every other delivery failure (a full mailbox, a
    -- DNS error, a block, an SMTP API error, an unknown failure).
    cast("Type" as varchar(64)) in ('HardBounce', 'BadEmailAddress', 'ManuallyDeactivated') as is_hard
from latest
