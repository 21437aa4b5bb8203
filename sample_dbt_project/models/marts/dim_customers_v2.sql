-- Version 2: deleted users dropped, region and activity flags added.
with orders as (
    select
        customer_id,
        count(*) as lifetime_orders,
        sum(net_revenue) as lifetime_revenue,
        max(ordered_at) as last_ordered_at
    from {{ ref('fct_orders') }}
    group by customer_id
)

select
    u.user_id as customer_id,
    u.email,
    u.country_code,
    c.region,
    u.plan,
    u.signed_up_at,
    coalesce(o.lifetime_orders, 0) as lifetime_orders,
    coalesce(o.lifetime_revenue, 0) as lifetime_revenue,
    o.last_ordered_at,
    coalesce(o.last_ordered_at >= current_date - interval 90 day, false) as is_active
from {{ ref('stg_users') }} as u
left join orders as o on u.user_id = o.customer_id
left join {{ ref('dim_countries') }} as c on u.country_code = c.country_code
where not u.is_deleted
