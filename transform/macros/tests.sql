{#- A combination of columns is unique (without dbt_utils: the package needs no other package). -#}
{% test dbt_utils_free_unique_key(model, columns) %}
select {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
