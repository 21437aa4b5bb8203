select
    session_id,
    user_id,
    min(occurred_at) as session_started_at,
    max(occurred_at) as session_ended_at,
    count(*) as event_count,
    count(*) filter (where event_name = 'checkout_completed') as checkouts
from {{ ref('stg_events') }}
group by session_id, user_id
