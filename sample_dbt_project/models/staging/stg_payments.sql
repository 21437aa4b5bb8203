-- Stripe charges, one row per payment attempt, amounts in major currency units.
with source as (
    select * from {{ source('stripe', 'charges') }}
)

select
    id as payment_id,
    customer as customer_id,
    metadata_order_id as order_id,
    amount / 100.0 as amount,
    upper(currency) as currency,
    status,
    status = 'succeeded' as is_successful,
    created as created_at
from source
where livemode
