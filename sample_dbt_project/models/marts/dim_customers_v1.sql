-- Version 1: one row per user, deleted users included.
select
    u.user_id as customer_id,
    u.email,
    u.country_code,
    u.plan,
    u.signed_up_at,
    count(o.order_id) as lifetime_orders,
    coalesce(sum(o.net_revenue), 0) as lifetime_revenue
from {{ ref('stg_users') }} as u
left join {{ ref('fct_orders') }} as o on u.user_id = o.customer_id
group by all
