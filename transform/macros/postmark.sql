{#- What differs between DuckDB and PostgreSQL, in one place. -#}

{#- A stream as loaded, with `_postmark_read_order`: larger for a later read of the same
    record. DuckDB reads target-jsonl's file (appended run after run: a later line is a later
    read); PostgreSQL reads target-postgres's table (upserted: its `_sdc_extracted_at`,
    add_record_metadata being on). -#}
{% macro postmark_source(stream) -%}
  {{ return(adapter.dispatch('postmark_source', 'postmark')(stream)) }}
{%- endmacro %}

{% macro duckdb__postmark_source(stream) -%}
(select *, row_number() over () as _postmark_read_order
 from read_json('{{ var("postmark_jsonl_dir") }}/{{ stream }}.jsonl',
                format = 'newline_delimited', union_by_name = true,
                maximum_object_size = 268435456))
{%- endmacro %}

{% macro default__postmark_source(stream) -%}
(select *, extract(epoch from "_sdc_extracted_at") as _postmark_read_order
 from {{ adapter.quote(var("postmark_schema")) }}.{{ adapter.quote(stream) }})
{%- endmacro %}

{#- A timestamp column as a UTC timestamp without time zone. -#}
{% macro postmark_utc(column) -%}
  {{ return(adapter.dispatch('postmark_utc', 'postmark')(column)) }}
{%- endmacro %}

{% macro duckdb__postmark_utc(column) -%}
timezone('UTC', cast(cast({{ column }} as varchar) as timestamptz))
{%- endmacro %}

{% macro default__postmark_utc(column) -%}
(cast(cast({{ column }} as text) as timestamptz) at time zone 'UTC')
{%- endmacro %}

{#- The US-Eastern calendar day of a UTC timestamp: the day Postmark files statistics under. -#}
{% macro postmark_eastern_date(utc) -%}
  {{ return(adapter.dispatch('postmark_eastern_date', 'postmark')(utc)) }}
{%- endmacro %}

{% macro duckdb__postmark_eastern_date(utc) -%}
cast(timezone('America/New_York', timezone('UTC', {{ utc }})) as date)
{%- endmacro %}

{% macro default__postmark_eastern_date(utc) -%}
cast(({{ utc }} at time zone 'UTC') at time zone 'America/New_York' as date)
{%- endmacro %}

{#- A text member of an object column (DuckDB: a struct; PostgreSQL: jsonb). -#}
{% macro postmark_member(column, key) -%}
  {{ return(adapter.dispatch('postmark_member', 'postmark')(column, key)) }}
{%- endmacro %}

{% macro duckdb__postmark_member(column, key) -%}
(cast({{ column }} as json) ->> '{{ key }}')
{%- endmacro %}

{% macro default__postmark_member(column, key) -%}
(cast({{ column }} as jsonb) ->> '{{ key }}')
{%- endmacro %}

{#- One row per key: the latest read of each (`relation` has `_postmark_read_order`). -#}
{% macro postmark_latest(relation, key) -%}
select * from (
  select r.*, row_number() over (
    partition by {% for k in key %}{{ adapter.quote(k) }}{{ ", " if not loop.last }}{% endfor %}
    order by _postmark_read_order desc) as _postmark_copy
  from {{ relation }} as r
) as latest
where _postmark_copy = 1
{%- endmacro %}

{#- A share, 0 when there is nothing to divide by. -#}
{% macro postmark_rate(part, whole) -%}
case when {{ whole }} > 0 then cast({{ part }} as double precision) / {{ whole }} else 0 end
{%- endmacro %}

{#- Whether a stream as loaded has a column (the stats streams have `Tag` only with the tap's
    stats_tags setting). False while dbt only parses. -#}
{% macro postmark_has_column(stream, column) -%}
  {% if not execute %}{{ return(false) }}{% endif %}
  {{ return(adapter.dispatch('postmark_has_column', 'postmark')(stream, column)) }}
{%- endmacro %}

{% macro duckdb__postmark_has_column(stream, column) -%}
  {% set found = run_query("select count(*) from (describe select * from " ~ postmark_source(stream) ~ ") where column_name = '" ~ column ~ "'") %}
  {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}

{% macro default__postmark_has_column(stream, column) -%}
  {% set relation = api.Relation.create(database=target.database, schema=var("postmark_schema"), identifier=stream) %}
  {% set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | list %}
  {{ return(column in names) }}
{%- endmacro %}

{#- The elements of a list-of-text column, one row each (in a select list): a DuckDB list, a
    PostgreSQL array (target-postgres loads a list of strings as text[]). -#}
{% macro postmark_unnest_text(column) -%}
unnest({{ column }})
{%- endmacro %}

{#- `days` days, as an interval. -#}
{% macro postmark_days(days) -%}
({{ days }} * interval '1 day')
{%- endmacro %}
