{{ config(materialized='ephemeral') }}

-- Successful payment totals per order; inlined as a CTE wherever it is used.
select
    order_id,
    sum(amount) as gross_paid,
    count(*) as payment_count,
    min(created_at) as first_paid_at
from {{ ref('stg_payments') }}
where is_successful
group by order_id
