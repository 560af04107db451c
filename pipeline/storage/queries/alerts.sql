-- Alerts with their effective status: the latest responder action decides, except that a
-- finding after a resolution reopens the alert. Optional filters: NULL means "any".
SELECT
    a.alert_id AS alert_id, a.enterprise_id AS enterprise_id, a.rule_id AS rule_id, a.day AS day,
    a.tier AS tier, a.severity AS severity, a.route AS route, a.count AS count,
    a.first_ts AS first_ts, a.last_ts AS last_ts, a.updated_at AS updated_at,
    a.finding_ids AS finding_ids,
    multiIf(
        act.status = '', 'open',
        act.status = 'resolved' AND a.updated_at > act.last_at, 'open',
        act.status
    ) AS status,
    act.actor AS actor, act.note AS note, act.last_at AS action_at
FROM
(
    SELECT * FROM {database:Identifier}.alerts FINAL
    ORDER BY alert_id, updated_at DESC
    LIMIT 1 BY alert_id
) AS a
LEFT JOIN
(
    SELECT alert_id, argMax(status, at) AS status, argMax(actor, at) AS actor,
        argMax(note, at) AS note, max(at) AS last_at
    FROM {database:Identifier}.alert_actions
    GROUP BY alert_id
) AS act ON act.alert_id = a.alert_id
WHERE ({alert_id:Nullable(String)} IS NULL OR a.alert_id = {alert_id:Nullable(String)})
    AND ({enterprise_id:Nullable(String)} IS NULL OR a.enterprise_id = {enterprise_id:Nullable(String)})
    AND ({status:Nullable(String)} IS NULL OR status = {status:Nullable(String)})
ORDER BY a.last_ts DESC, a.alert_id
LIMIT {limit:UInt64}
SETTINGS join_use_nulls = 0
