-- A DBA reads the schema from \d+ alone: every table, column, index, function and policy is commented.
begin;
select plan(6);

select is_empty(
    $$ select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'app' and c.relkind in ('r', 'p', 'v') and obj_description(c.oid, 'pg_class') is null $$,
    'every table in app has a comment'
);
select is_empty(
    $$ select c.relname || '.' || a.attname from pg_attribute a
       join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'app' and c.relkind in ('r', 'p', 'v') and a.attnum > 0 and not a.attisdropped
         and col_description(c.oid, a.attnum) is null $$,
    'every column in app has a comment'
);
select is_empty(
    $$ select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
       join pg_index i on i.indexrelid = c.oid
       where n.nspname = 'app' and c.relkind = 'i' and not i.indisprimary
         and not exists (select from pg_constraint k where k.conindid = c.oid)
         and obj_description(c.oid, 'pg_class') is null $$,
    'every secondary index in app says why it exists'
);
select is_empty(
    $$ select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname in ('app', 'api', 'internal') and obj_description(p.oid, 'pg_proc') is null $$,
    'every function in app, api and internal has a comment'
);
select is_empty(
    $$ select pol.polname from pg_policy pol where obj_description(pol.oid, 'pg_policy') is null $$,
    'every policy has a comment'
);
select is_empty(
    $$ select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname = 'internal' and p.prosecdef
         and not coalesce('search_path=""' = any(p.proconfig), false) $$,
    'every security definer function pins an empty search_path'
);

select * from finish();
rollback;
