with orders as (
    select * from {{ ref('stg_orders') }}
),

payments as (
    select * from {{ ref('int_payments_pivoted') }}
),

refunds as (
    select
        p.order_id,
        sum(r.refund_amount) as refunded
    from {{ ref('stg_refunds') }} as r
    inner join {{ ref('stg_payments') }} as p on r.payment_id = p.payment_id
    group by p.order_id
)

select
    orders.order_id,
    orders.customer_id,
    orders.order_status,
    orders.currency,
    orders.ordered_at,
    coalesce(payments.gross_paid, 0) as gross_paid,
    coalesce(refunds.refunded, 0) as refunded,
    coalesce(payments.gross_paid, 0) - coalesce(refunds.refunded, 0) as net_revenue
from orders
left join payments on orders.order_id = payments.order_id
left join refunds on orders.order_id = refunds.order_id
