//! `approvals list` and `approvals revoke`: who approved what, whether each
//! approval still counts, and withdrawing one (an approval cannot be edited;
//! deleting it is how it is withdrawn).

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use immybot_operator::api::{
    ApprovedKind, ImmyBotSchedule, MaintenanceApproval, MaintenanceSchedule, MaintenanceSession,
};
use kube::ResourceExt as _;
use kube::api::{DeleteParams, ListParams};

use super::commands::{Ctx, whoami};
use super::object_ref::{Kind, ObjectRef};

#[derive(clap::Subcommand, Debug)]
pub enum ApprovalsCommand {
    /// The approvals of the namespace (or of one object), with whether each
    /// still counts: `current` approves what the object would do now,
    /// `outdated` approved an earlier spec, `expired`, or `object gone`.
    #[command(
        after_help = "Examples:\n  kubectl immybot approvals list\n  kubectl immybot approvals list patch-reception-pc\n  kubectl immybot approvals list schedule/fabrikam-nightly"
    )]
    List {
        /// Only the approvals of this object (NAME, schedule/NAME,
        /// maintenanceschedule/NAME).
        object: Option<String>,
    },
    /// Withdraw approvals: one by its name, or with --for every approval
    /// you gave an object. An object that has not started waits for a new
    /// approval; one that started goes on (cancel it to stop it).
    #[command(
        after_help = "Examples:\n  kubectl immybot approvals revoke patch-reception-pc-bob\n  kubectl immybot approvals revoke --for patch-reception-pc"
    )]
    Revoke {
        /// The MaintenanceApproval's name.
        #[arg(required_unless_present = "for_object", conflicts_with = "for_object")]
        name: Option<String>,
        /// Every approval of this object that you gave.
        #[arg(long = "for", value_name = "OBJECT")]
        for_object: Option<String>,
    },
}

pub async fn run(ctx: &Ctx, command: ApprovalsCommand) -> anyhow::Result<()> {
    match command {
        ApprovalsCommand::List { object } => list(ctx, object.as_deref()).await,
        ApprovalsCommand::Revoke { name, for_object } => revoke(ctx, name, for_object.as_deref()).await,
    }
}

/// The kind an approval names, as the plugin's object references do.
fn kind_of(a: &MaintenanceApproval) -> Kind {
    match a.spec.kind {
        ApprovedKind::MaintenanceSession => Kind::Session,
        ApprovedKind::ImmyBotSchedule => Kind::Schedule,
        ApprovedKind::MaintenanceSchedule => Kind::MaintenanceSchedule,
    }
}

/// `name`, `schedule/name` or `maintenanceschedule/name`, as users type them.
fn shown(kind: Kind, name: &str) -> String {
    match kind {
        Kind::Session => name.to_owned(),
        Kind::Schedule => format!("schedule/{name}"),
        Kind::MaintenanceSchedule => format!("maintenanceschedule/{name}"),
    }
}

/// What an approved object is now: its uid and the digest an approval of it
/// must name.
#[derive(Clone, Debug, PartialEq)]
pub struct Approvable {
    pub uid: Option<String>,
    pub digest: Option<String>,
}

async fn approvable(ctx: &Ctx, kind: Kind, name: &str) -> anyhow::Result<Option<Approvable>> {
    let found = match kind {
        Kind::Session => ctx
            .api::<MaintenanceSession>()
            .get_opt(name)
            .await?
            .map(|o| Approvable {
                uid: o.uid(),
                digest: o.status.and_then(|s| s.approval_digest),
            }),
        Kind::Schedule => ctx.api::<ImmyBotSchedule>().get_opt(name).await?.map(|o| Approvable {
            uid: o.uid(),
            digest: o.status.and_then(|s| s.approval_digest),
        }),
        Kind::MaintenanceSchedule => ctx
            .api::<MaintenanceSchedule>()
            .get_opt(name)
            .await?
            .map(|o| Approvable {
                uid: o.uid(),
                digest: o.status.and_then(|s| s.template_digest),
            }),
    };
    Ok(found)
}

/// Whether an approval still counts for what its object is now.
pub fn state(a: &MaintenanceApproval, object: Option<&Approvable>, now: jiff::Timestamp) -> &'static str {
    if a.spec.expires_at.as_ref().is_some_and(|t| t.0 <= now) {
        return "expired";
    }
    match object {
        None => "object gone",
        Some(o) if o.uid.as_deref() != Some(a.spec.session_uid.as_str()) => "object gone",
        Some(o) if o.digest.as_deref() == Some(a.spec.digest.as_str()) => "current",
        Some(_) => "outdated",
    }
}

/// The approvals as a table.
pub fn table(items: &[(MaintenanceApproval, &'static str)]) -> String {
    if items.is_empty() {
        return "no approvals\n".into();
    }
    let mut rows = vec![
        ["NAME", "OBJECT", "APPROVER", "DIGEST", "COMPUTERS", "EXPIRES", "STATE"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for (a, state) in items {
        let digest = a.spec.digest.strip_prefix("sha256:").unwrap_or(&a.spec.digest);
        rows.push(vec![
            a.name_any(),
            shown(kind_of(a), &a.spec.session_name),
            a.spec.approver.clone(),
            digest.chars().take(12).collect(),
            a.spec.computers.map_or_else(|| "-".into(), |c| c.to_string()),
            a.spec
                .expires_at
                .as_ref()
                .map_or_else(|| "-".into(), |t| t.0.to_string()),
            (*state).to_owned(),
        ]);
    }
    super::render_search::columns(&rows)
}

async fn list(ctx: &Ctx, object: Option<&str>) -> anyhow::Result<()> {
    let wanted = object.map(ObjectRef::parse).transpose()?;
    let approvals = ctx
        .api::<MaintenanceApproval>()
        .list(&ListParams::default())
        .await
        .with_context(|| format!("listing MaintenanceApprovals in namespace {}", ctx.namespace))?
        .items;
    let mut objects: BTreeMap<(String, String), Option<Approvable>> = BTreeMap::new();
    let now = jiff::Timestamp::now();
    let mut rows = Vec::new();
    for a in approvals {
        let kind = kind_of(&a);
        if wanted
            .as_ref()
            .is_some_and(|w| w.kind != kind || w.name != a.spec.session_name)
        {
            continue;
        }
        let key = (shown(kind, ""), a.spec.session_name.clone());
        if !objects.contains_key(&key) {
            let found = approvable(ctx, kind, &a.spec.session_name).await?;
            objects.insert(key.clone(), found);
        }
        let state = state(&a, objects.get(&key).and_then(Option::as_ref), now);
        rows.push((a, state));
    }
    print!("{}", table(&rows));
    Ok(())
}

async fn revoke(ctx: &Ctx, name: Option<String>, for_object: Option<&str>) -> anyhow::Result<()> {
    let api = ctx.api::<MaintenanceApproval>();
    let names: Vec<(String, String)> = match (name, for_object) {
        (Some(name), _) => {
            let a: MaintenanceApproval = ctx.get(&name).await?;
            vec![(name, shown(kind_of(&a), &a.spec.session_name))]
        }
        (None, Some(object)) => {
            let object = ObjectRef::parse(object)?;
            let me = whoami(&ctx.client).await?;
            let mine: Vec<(String, String)> = api
                .list(&ListParams::default())
                .await
                .context("listing MaintenanceApprovals")?
                .items
                .into_iter()
                .filter(|a| kind_of(a) == object.kind && a.spec.session_name == object.name && a.spec.approver == me)
                .map(|a| (a.name_any(), shown(object.kind, &object.name)))
                .collect();
            if mine.is_empty() {
                bail!(
                    "{me} has no approval of {} in namespace {}",
                    shown(object.kind, &object.name),
                    ctx.namespace
                );
            }
            mine
        }
        (None, None) => bail!("name an approval, or give --for OBJECT"),
    };
    for (name, object) in names {
        api.delete(&name, &DeleteParams::default())
            .await
            .with_context(|| format!("revoking {name}"))?;
        println!(
            "maintenanceapproval.immybot.io/{name} revoked: {object} no longer starts on it (what already started goes on; cancel it to stop it)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(digest: &str, uid: &str, expires: Option<jiff::Timestamp>) -> MaintenanceApproval {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
            "metadata": {"name": "patch-bob"},
            "spec": {
                "sessionName": "patch", "sessionUid": uid, "digest": digest, "approver": "bob",
                "expiresAt": expires.map(|t| t.to_string()),
            },
        }))
        .unwrap()
    }

    #[test]
    fn an_approval_counts_only_for_what_it_saw() {
        let now = jiff::Timestamp::now();
        let object = Approvable {
            uid: Some("u1".into()),
            digest: Some("sha256:aa".into()),
        };
        let later = now + jiff::SignedDuration::from_hours(1);
        let earlier = now - jiff::SignedDuration::from_hours(1);
        assert_eq!(state(&approval("sha256:aa", "u1", None), Some(&object), now), "current");
        assert_eq!(
            state(&approval("sha256:aa", "u1", Some(later)), Some(&object), now),
            "current"
        );
        assert_eq!(
            state(&approval("sha256:bb", "u1", None), Some(&object), now),
            "outdated"
        );
        assert_eq!(
            state(&approval("sha256:aa", "u1", Some(earlier)), Some(&object), now),
            "expired"
        );
        assert_eq!(
            state(&approval("sha256:aa", "u0", None), Some(&object), now),
            "object gone"
        );
        assert_eq!(state(&approval("sha256:aa", "u1", None), None, now), "object gone");
    }

    #[test]
    fn the_table_names_objects_as_users_type_them() {
        let mut a = approval("sha256:0123456789abcdef", "u1", None);
        a.spec.kind = ApprovedKind::ImmyBotSchedule;
        a.spec.computers = Some(40);
        let out = table(&[(a, "current")]);
        assert_eq!(
            out,
            "NAME       OBJECT          APPROVER  DIGEST        COMPUTERS  EXPIRES  STATE\n\
             patch-bob  schedule/patch  bob       0123456789ab  40         -        current\n"
        );
    }
}
