//! Which object a command is about: `name` or `session/name` for a
//! MaintenanceSession, `schedule/name` for an ImmyBotSchedule (kubectl's
//! `kind/name` form, with the kinds' plural and short names accepted too),
//! `maintenanceschedule/name` for a MaintenanceSchedule.

use anyhow::bail;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Session,
    Schedule,
    MaintenanceSchedule,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: Kind,
    pub name: String,
}

impl ObjectRef {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let (kind, name) = match text.split_once('/') {
            None => (Kind::Session, text),
            Some((kind, name)) => (kind_of(kind)?, name),
        };
        if name.is_empty() || name.contains('/') {
            bail!("{text:?} is not a name or kind/name (e.g. schedule/nightly)");
        }
        Ok(Self {
            kind,
            name: name.to_string(),
        })
    }

    /// For commands that only make sense for schedules: a bare name means
    /// a schedule, and a session is refused with the reason.
    pub fn parse_schedule(text: &str, command: &str) -> anyhow::Result<String> {
        let r = match text.split_once('/') {
            None => Self {
                kind: Kind::Schedule,
                name: text.to_string(),
            },
            Some(_) => Self::parse(text)?,
        };
        if r.kind != Kind::Schedule {
            bail!("{command} is for ImmyBotSchedules (schedule/<name>); a MaintenanceSession runs once");
        }
        Ok(r.name)
    }
}

fn kind_of(text: &str) -> anyhow::Result<Kind> {
    Ok(match text.to_ascii_lowercase().as_str() {
        "session" | "sessions" | "maintenancesession" | "maintenancesessions" | "ims" => Kind::Session,
        "schedule" | "schedules" | "immybotschedule" | "immybotschedules" | "imsched" => Kind::Schedule,
        "maintenanceschedule" | "maintenanceschedules" | "imms" => Kind::MaintenanceSchedule,
        other => bail!("unknown kind {other:?}: use session/<name>, schedule/<name> or maintenanceschedule/<name>"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_kinds() {
        assert_eq!(ObjectRef::parse("plug").unwrap().kind, Kind::Session);
        assert_eq!(ObjectRef::parse("schedule/nightly").unwrap().kind, Kind::Schedule);
        assert_eq!(ObjectRef::parse("imsched/nightly").unwrap().name, "nightly");
        assert_eq!(ObjectRef::parse("MaintenanceSession/x").unwrap().kind, Kind::Session);
        assert_eq!(ObjectRef::parse("imms/x").unwrap().kind, Kind::MaintenanceSchedule);
        assert!(ObjectRef::parse("pod/x").is_err());
        assert!(ObjectRef::parse("schedule/").is_err());
        assert!(ObjectRef::parse("schedule/a/b").is_err());
        assert_eq!(ObjectRef::parse_schedule("nightly", "run-now").unwrap(), "nightly");
        assert!(ObjectRef::parse_schedule("session/x", "run-now").is_err());
    }
}
