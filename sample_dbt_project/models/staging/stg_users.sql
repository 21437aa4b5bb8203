with source as (
    select * from {{ source('app', 'users') }}
)

select
    id as user_id,
    lower(email) as email,
    upper(country) as country_code,
    plan,
    created_at as signed_up_at,
    updated_at,
    deleted_at is not null as is_deleted
from source
