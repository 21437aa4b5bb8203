with source as (
    select * from {{ source('stripe', 'refunds') }}
)

select
    id as refund_id,
    charge as payment_id,
    amount / 100.0 as refund_amount,
    reason,
    status,
    created as refunded_at
from source
