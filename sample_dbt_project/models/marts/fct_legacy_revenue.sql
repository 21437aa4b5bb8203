{{ config(enabled=false) }}

-- Retired in favour of daily_revenue; kept disabled so old docs links still explain it.
select
    cast(ordered_at as date) as revenue_date,
    sum(gross_paid) as revenue
from {{ ref('int_orders_enriched') }}
group by 1
