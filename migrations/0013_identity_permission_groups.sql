-- Permission groups (projection `operators`, which keeps everything a request's principal is
-- made of, so one checkpoint says how current an authorization is): each group's permissions
-- and members. A principal's permissions are the union over the groups it is in; superusers
-- hold every permission without being in any group.
CREATE TABLE read.permission_groups (
    id            uuid        PRIMARY KEY,
    name          text        NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL,
    last_position bigint      NOT NULL
);

CREATE TABLE read.group_permissions (
    group_id   uuid NOT NULL REFERENCES read.permission_groups (id),
    permission text NOT NULL,
    PRIMARY KEY (group_id, permission)
);

CREATE TABLE read.group_members (
    group_id    uuid        NOT NULL REFERENCES read.permission_groups (id),
    operator_id uuid        NOT NULL,
    added_at    timestamptz NOT NULL,
    PRIMARY KEY (group_id, operator_id)
);
CREATE INDEX group_members_by_operator ON read.group_members (operator_id);
