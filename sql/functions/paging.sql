-- Keyset paging: an opaque cursor is the last row's sort key, as base64url JSON.

create or replace function internal.encode_cursor(sort_key jsonb) returns text
language sql immutable
as $$
    select translate(encode(convert_to(sort_key::text, 'UTF8'), 'base64'), e'+/=\n', '-_')
$$;
comment on function internal.encode_cursor(jsonb) is 'A page cursor: the last row''s sort key as base64url JSON, opaque to clients.';

create or replace function internal.decode_cursor(cursor text, time_key text, text_keys text[]) returns jsonb
-- stable, not immutable: the timestamptz cast depends on the session's DateStyle and TimeZone.
language plpgsql stable
set search_path = ''
as $$
-- Null for no cursor. A cursor this server did not make (not base64url JSON, other keys, a time
-- that is not a timestamp) is AD400 bad_cursor, never a 500 from a failed cast further on.
declare
    sort_key jsonb;
begin
    if cursor is null then
        return null;
    end if;
    begin
        sort_key := convert_from(decode(rpad(
            translate(cursor, '-_', '+/'), length(cursor) + (4 - length(cursor) % 4) % 4, '='
        ), 'base64'), 'UTF8')::jsonb;
        if jsonb_typeof(sort_key) = 'object'
            and (select array_agg(k order by k) from jsonb_object_keys(sort_key) as k)
            = (select array_agg(k order by k) from unnest(text_keys || time_key) as k)
            and (select bool_and(jsonb_typeof(sort_key -> k) = 'string') from unnest(text_keys || time_key) as k)
            and (sort_key ->> time_key)::timestamptz is not null then
            return sort_key;
        end if;
    exception when data_exception then
        null;  -- reported below, like any other cursor that is not ours
    end;
    raise exception using errcode = 'AD400', hint = 'bad_cursor', message = 'cursor is not one this server issued';
end
$$;
comment on function internal.decode_cursor(text, text, text[]) is
'The sort key in a cursor made by encode_cursor, checked to hold exactly the given keys (AD400 bad_cursor otherwise).';

revoke all on function internal.encode_cursor(jsonb), internal.decode_cursor(text, text, text[]) from public;
grant execute on function internal.encode_cursor(jsonb), internal.decode_cursor(text, text, text[])
to authenticated, agentdeck_key, service_role;
