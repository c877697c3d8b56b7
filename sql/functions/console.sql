-- What the console needs to know about its signed-in user: GET /api/me.

create or replace function api.console_identity() returns jsonb
language plpgsql stable
set search_path = ''
as $$
begin
    perform internal.require_identity();
    -- Members see the other members of their workspaces (RLS), so one statement also gives the
    -- people an incident may be assigned to.
    return (select jsonb_build_object(
        'user_id', auth.uid(),
        'workspaces', coalesce(jsonb_agg(jsonb_build_object(
            'workspace_id', w.workspace_id,
            'name', w.name,
            'role', mine.role,
            'projects', (
                select jsonb_agg(jsonb_build_object('project_id', p.project_id, 'name', p.name) order by p.project_id)
                from app.projects as p
                where p.workspace_id = w.workspace_id
            ),
            'members', (
                select jsonb_agg(jsonb_build_object('user_id', m.user_id, 'role', m.role) order by m.user_id)
                from app.workspace_members as m
                where m.workspace_id = w.workspace_id
            )
        ) order by w.workspace_id), '[]')
    )
    from app.workspace_members as mine
    inner join app.workspaces as w on mine.workspace_id = w.workspace_id
    where mine.user_id = auth.uid());
end
$$;
comment on function api.console_identity() is
'GET /api/me: the console user, their workspaces with their role in each, its projects and its members.';

revoke all on function api.console_identity() from public;
grant execute on function api.console_identity() to authenticated;
