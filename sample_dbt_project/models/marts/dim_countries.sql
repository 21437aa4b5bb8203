select
    iso2 as country_code,
    iso3,
    country_name,
    region,
    currency
from {{ ref('country_codes') }}
