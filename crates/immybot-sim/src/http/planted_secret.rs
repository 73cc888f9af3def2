//! A planted secret (`ResponseShape::job_args_secret`): where live
//! instances and the document put task parameter values in clear text, so
//! that the tests can check none of them reaches status, events or logs.

/// Live instances echo task parameter values in `sessionJobArgs` in clear
/// text; with a planted secret, every session carries one there.
pub(super) fn plant_secret(session: &mut serde_json::Value, shape: &crate::ResponseShape) {
    if let (Some(secret), Some(args)) = (&shape.job_args_secret, session.get_mut("sessionJobArgs"))
        && let Some(args) = args.as_object_mut()
    {
        args.insert(
            "maintenanceItem".into(),
            serde_json::json!({"taskParameterValues": {"ApiKey": {"value": secret}, "AdminPassword": {"value": secret}}}),
        );
    }
}

/// The document's log rows (a session's and an action's) carry the
/// script's parameters in clear text (`scriptParameters`,
/// `paramBlockParameters`); with a planted secret every row carries it
/// there, and a `Command` row before the first error echoes it the way a
/// script printing its arguments would.
pub(super) fn plant_secret_in_log(rows: &mut Vec<serde_json::Value>, shape: &crate::ResponseShape) {
    let Some(secret) = &shape.job_args_secret else { return };
    let parameters = serde_json::json!({"ApiKey": secret, "AdminPassword": secret});
    for row in rows.iter_mut() {
        if let Some(row) = row.as_object_mut() {
            row.insert("scriptParameters".into(), parameters.clone());
            row.insert(
                "paramBlockParameters".into(),
                serde_json::json!({"ApiKey": {"value": secret}}),
            );
            row.insert(
                "scriptOutput".into(),
                serde_json::json!(format!("connecting with {secret}")),
            );
        }
    }
    // Just before the first error (what a failing script prints last), at
    // its time.
    let at = rows
        .iter()
        .position(|r| r.get("sessionLogType").is_some_and(|t| t == 1 || t == "Error"))
        .unwrap_or(0);
    let mut echo = rows.get(at).cloned().unwrap_or_else(|| serde_json::json!({}));
    if let Some(echo) = echo.as_object_mut() {
        echo.insert(
            "message".into(),
            serde_json::json!(format!("Running script with -ApiKey {secret}")),
        );
        echo.insert("sessionLogType".into(), serde_json::json!(2));
        echo.insert("scriptParameters".into(), parameters);
    }
    rows.insert(at, echo);
}
