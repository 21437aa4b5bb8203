select
    r.refund_id,
    p.order_id,
    p.customer_id,
    r.refund_amount,
    r.reason,
    cast(r.refunded_at as date) as refund_date
from {{ ref('stg_refunds') }} as r
inner join {{ ref('stg_payments') }} as p on r.payment_id = p.payment_id
where r.status = 'succeeded'
