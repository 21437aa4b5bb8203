with source as (
    select * from {{ source('app', 'orders') }}
)

select
    id as order_id,
    user_id as customer_id,
    status as order_status,
    total_cents / 100.0 as order_total,
    upper(currency) as currency,
    placed_at as ordered_at
from source
