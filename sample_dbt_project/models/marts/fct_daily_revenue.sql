{{ config(alias='daily_revenue') }}

-- Built as DAILY_REVENUE: dashboards predate the fct_ naming convention.
select
    order_date as revenue_date,
    country_code,
    currency,
    count(*) as orders,
    sum(gross_paid) as gross_revenue,
    sum(refunded) as refunds,
    sum(net_revenue) as net_revenue
from {{ ref('fct_orders') }}
where order_status <> 'cancelled'
group by order_date, country_code, currency
