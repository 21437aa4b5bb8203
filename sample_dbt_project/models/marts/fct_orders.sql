select
    o.order_id,
    o.customer_id,
    u.country_code,
    o.order_status,
    o.currency,
    cast(o.ordered_at as date) as order_date,
    o.ordered_at,
    o.gross_paid,
    o.refunded,
    o.net_revenue
from {{ ref('int_orders_enriched') }} as o
left join {{ ref('stg_users') }} as u on o.customer_id = u.user_id
