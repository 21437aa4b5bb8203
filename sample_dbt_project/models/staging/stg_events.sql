with source as (
    select * from {{ source('app', 'events') }}
)

select
    event_id,
    user_id,
    session_id,
    lower(event_name) as event_name,
    properties,
    occurred_at
from source
where occurred_at is not null
