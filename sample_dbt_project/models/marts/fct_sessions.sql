select
    session_id,
    user_id,
    session_started_at,
    session_ended_at,
    date_diff('second', session_started_at, session_ended_at) as duration_s,
    event_count,
    checkouts > 0 as converted
from {{ ref('int_user_sessions') }}
