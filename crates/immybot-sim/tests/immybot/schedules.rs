//! The schedule calls against the simulator over HTTP: what is sent is
//! what ImmyBot keeps, what it answers decodes, and the calls that start or
//! stop maintenance do exactly that.

use immybot_client::*;

use crate::support::*;

fn nightly(tenant: i32) -> ScheduleDefinition {
    ScheduleDefinition {
        target_type: Some(TargetType::AllForTenant),
        target_category: Some(TargetCategory::Computer),
        target_group_filter: Some(TargetGroupFilter::All),
        tenant_id: Some(tenant),
        propagate_to_child_tenants: Some(false),
        custom_cron_expression: Some("30 22 * * *".into()),
        time_zone_info_id: Some("Europe/Berlin".into()),
        disabled: Some(false),
        reboot_preference: Some(RebootPreference::Normal),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_schedule_round_trips_through_the_client() {
    let bed = Bed::new().await;
    let id = bed
        .client
        .create_schedule(&nightly(2))
        .await
        .unwrap()
        .expect("the simulator answers the id");
    let got = bed.client.schedule(id).await.unwrap();
    assert_eq!(got.id, id);
    assert_eq!(got.definition.custom_cron_expression.as_deref(), Some("30 22 * * *"));
    assert_eq!(
        got.definition.time_zone_info_id.as_deref(),
        Some("W. Europe Standard Time"),
        "by default the simulator answers the Windows id, as the least helpful reading"
    );
    assert!(
        got.differences(&nightly(2)).is_empty(),
        "the zone's two names mean the same: {:?}",
        got.differences(&nightly(2))
    );
    let of_2: Vec<i32> = bed
        .client
        .schedules(Some(2))
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    let of_3: Vec<i32> = bed
        .client
        .schedules(Some(3))
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!((of_2, of_3), (vec![id], vec![]));

    let mut moved = nightly(2);
    moved.custom_cron_expression = Some("0 3 * * *".into());
    bed.client.update_schedule(id, &moved).await.unwrap();
    let got = bed.client.schedule(id).await.unwrap();
    assert_eq!(got.differences(&nightly(2)), vec!["customCronExpression".to_string()]);

    bed.client.delete_schedule(id).await.unwrap();
    let gone = bed.client.schedule(id).await.unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound);
    bed.client
        .delete_schedule(id)
        .await
        .expect("deleting what is gone is done, not an error");
}

#[tokio::test]
async fn definitions_immybot_cannot_run_are_refused_and_nothing_is_kept() {
    let bed = Bed::new().await;
    let mut every_five = nightly(2);
    every_five.custom_cron_expression = Some("*/5 * * * *".into());
    let mut nowhere = nightly(2);
    nowhere.time_zone_info_id = Some("Mars/Olympus_Mons".into());
    for def in [every_five, nowhere] {
        let e = bed.client.create_schedule(&def).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Permanent, "{e}");
    }
    assert!(bed.client.schedules(None).await.unwrap().is_empty());
    assert_eq!(bed.calls("POST /api/v1/schedules"), 2, "never retried");
}

#[tokio::test]
async fn run_now_starts_sessions_carrying_the_schedule_id_and_cancel_stops_them() {
    let bed = Bed::new().await;
    let id = bed.client.create_schedule(&nightly(2)).await.unwrap().unwrap();
    let other = bed.client.create_schedule(&nightly(3)).await.unwrap().unwrap();
    assert!(bed.client.running_schedule_ids().await.unwrap().is_empty());
    bed.client.run_schedule_now(id).await.unwrap();
    bed.advance(1);
    assert_eq!(bed.client.running_schedule_ids().await.unwrap(), vec![id]);
    let page = bed
        .client
        .find_sessions(&SessionQuery {
            scheduled_id: Some(id),
            take: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!page.items.is_empty());
    assert!(
        page.items.iter().all(|s| s.scheduled_id == Some(id)),
        "{:?}",
        page.items
    );
    let none_of_other = bed
        .client
        .find_sessions(&SessionQuery {
            scheduled_id: Some(other),
            take: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none_of_other.items.is_empty());

    // Those still going are cancelled; those already ended stay as they were.
    let mut before = Vec::new();
    for row in &page.items {
        let s = bed.client.session(row.id, false, false).await.unwrap();
        before.push((s.id, s.session_status));
    }
    assert!(
        before
            .iter()
            .any(|(_, st)| st.as_ref().is_some_and(|st| !st.is_terminal())),
        "{before:?}"
    );
    bed.client.cancel_schedule(id).await.unwrap();
    bed.advance(5);
    assert!(bed.client.running_schedule_ids().await.unwrap().is_empty());
    for (session, was) in before {
        let now = bed.client.session(session, false, false).await.unwrap().session_status;
        let want = if was.as_ref().is_some_and(|st| st.is_terminal()) {
            was.clone()
        } else {
            Some(SessionStatus::Cancelled)
        };
        assert_eq!(now, want, "session {session} (was {was:?})");
    }
}

/// Over real HTTP, at the client's default ages: the tenant list and a
/// computer's name are asked once, a miss again; a schedule is reused
/// until this client changes it.
#[tokio::test]
async fn lookups_are_reused_for_a_while_and_asked_again_on_a_miss_or_a_write() {
    let config = immybot_sim::SimConfig {
        seed: fleet(),
        ..Default::default()
    };
    let bed = Bed::with(config, |c| c.lookup_ages = LookupAges::default()).await;
    for _ in 0..3 {
        assert_eq!(bed.client.tenants_named("Fabrikam").await.unwrap().len(), 1);
    }
    assert_eq!(bed.calls("GET /api/v1/tenants"), 1, "the tenant list is reused");
    assert!(bed.client.tenants_named("Nobody").await.unwrap().is_empty());
    assert_eq!(
        bed.calls("GET /api/v1/tenants"),
        2,
        "a name the list lacks is looked for afresh"
    );
    let name = fleet().computers[0].name.clone();
    for _ in 0..3 {
        assert_eq!(bed.client.computers_named(&name).await.unwrap().len(), 1);
    }
    assert_eq!(bed.calls("GET /api/v1/computers/dx"), 1, "a found name is reused");
    for _ in 0..2 {
        assert!(bed.client.computers_named("NO-SUCH-PC").await.unwrap().is_empty());
    }
    assert_eq!(
        bed.calls("GET /api/v1/computers/dx"),
        3,
        "a name not found is asked each time"
    );
    let id = bed.client.create_schedule(&nightly(2)).await.unwrap().unwrap();
    for _ in 0..3 {
        bed.client.schedule(id).await.unwrap();
    }
    assert_eq!(
        bed.calls("GET /api/v1/schedules/{scheduleId}"),
        1,
        "a schedule is reused"
    );
    let mut moved = nightly(2);
    moved.custom_cron_expression = Some("0 3 * * *".into());
    bed.client.update_schedule(id, &moved).await.unwrap();
    let got = bed.client.schedule(id).await.unwrap();
    assert_eq!(got.definition.custom_cron_expression.as_deref(), Some("0 3 * * *"));
    assert_eq!(
        bed.calls("GET /api/v1/schedules/{scheduleId}"),
        2,
        "its own write is seen at once"
    );
}
