//! The calls that manage ImmyBot's own schedules, through the client's one
//! send loop.

use reqwest::Method;

use super::{Call, ImmyBotClient, decode, decode_error};
use crate::config::EnumEncoding;
use crate::error::ImmyBotError;
use crate::schedule::{Schedule, ScheduleDefinition, UpdateScheduleRequest};
use crate::start::enums_as_names;

impl ImmyBotClient {
    /// Every schedule of the instance (optionally of one tenant).
    pub async fn schedules(&self, tenant_id: Option<i32>) -> Result<Vec<Schedule>, ImmyBotError> {
        let mut call = Call::get("GET /api/v1/schedules", "api/v1/schedules".into());
        if let Some(t) = tenant_id {
            call = call.query("tenantId", t);
        }
        let answer = self.send(call).await?;
        let rows: Vec<serde_json::Value> = decode(&answer)?;
        rows.into_iter()
            .map(|row| Schedule::from_value(row).map_err(|e| decode_error(answer.route, &e)))
            .collect()
    }

    /// A schedule, reused for a while (`LookupAges::schedules`): how late a
    /// change made in ImmyBot itself may be seen. This client's own writes
    /// to it are seen at once.
    pub async fn schedule(&self, schedule_id: i32) -> Result<Schedule, ImmyBotError> {
        let lookups = &self.inner.lookups;
        let found = lookups
            .schedules
            .get_or_ask(
                &schedule_id,
                lookups.ages.schedules,
                |_| true,
                || async {
                    let call = Call::get(
                        "GET /api/v1/schedules/{scheduleId}",
                        format!("api/v1/schedules/{schedule_id}"),
                    );
                    let answer = self.send(call).await?;
                    let value: serde_json::Value = decode(&answer)?;
                    Schedule::from_value(value).map_err(|e| decode_error(answer.route, &e))
                },
            )
            .await?;
        Ok(found.as_ref().clone())
    }

    /// Drops what is known of a schedule this client changes.
    async fn changing(&self, schedule_id: i32) {
        self.inner.lookups.schedules.forget(&schedule_id).await;
    }

    /// Creates a schedule. Not idempotent (ImmyBot takes no key for it):
    /// never retried once it may have reached ImmyBot; the caller finds an
    /// interrupted create among the schedules (see the schedule controller).
    /// The answer's id, if it carries one.
    pub async fn create_schedule(&self, definition: &ScheduleDefinition) -> Result<Option<i32>, ImmyBotError> {
        let body = self.schedule_body(definition)?;
        let answer = self
            .send(Call::post(
                "POST /api/v1/schedules",
                "api/v1/schedules".into(),
                Some(body),
                false,
            ))
            .await?;
        if answer.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let value: serde_json::Value = decode(&answer)?;
        Ok(value
            .get("id")
            .and_then(serde_json::Value::as_i64)
            .and_then(|i| i32::try_from(i).ok()))
    }

    /// Replaces a schedule's definition. Idempotent.
    pub async fn update_schedule(&self, schedule_id: i32, definition: &ScheduleDefinition) -> Result<(), ImmyBotError> {
        let body = self.schedule_body(&UpdateScheduleRequest {
            id: schedule_id,
            definition,
        })?;
        let mut call = Call::post(
            "PUT /api/v1/schedules/{scheduleId}",
            format!("api/v1/schedules/{schedule_id}"),
            Some(body),
            true,
        );
        call.method = Method::PUT;
        self.changing(schedule_id).await;
        let sent = self.send(call).await.map(drop);
        self.changing(schedule_id).await;
        sent
    }

    /// Deletes a schedule. Idempotent; a schedule already gone is not an error.
    pub async fn delete_schedule(&self, schedule_id: i32) -> Result<(), ImmyBotError> {
        let mut call = Call::get(
            "DELETE /api/v1/schedules/{scheduleId}",
            format!("api/v1/schedules/{schedule_id}"),
        );
        call.method = Method::DELETE;
        self.changing(schedule_id).await;
        match self.send(call).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == crate::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Runs a schedule now (also while it is disabled). Starts maintenance:
    /// never retried once it may have reached ImmyBot.
    pub async fn run_schedule_now(&self, schedule_id: i32) -> Result<(), ImmyBotError> {
        self.changing(schedule_id).await;
        self.send(Call::post(
            "POST /api/v1/schedules/{scheduleId}/run-now",
            format!("api/v1/schedules/{schedule_id}/run-now"),
            None,
            false,
        ))
        .await
        .map(drop)
    }

    /// Cancels the sessions a schedule is running. Idempotent.
    pub async fn cancel_schedule(&self, schedule_id: i32) -> Result<(), ImmyBotError> {
        self.changing(schedule_id).await;
        self.send(Call::post(
            "POST /api/v1/schedules/{scheduleId}/cancel",
            format!("api/v1/schedules/{schedule_id}/cancel"),
            None,
            true,
        ))
        .await
        .map(drop)
    }

    /// The ids of the schedules that have sessions running now.
    pub async fn running_schedule_ids(&self) -> Result<Vec<i32>, ImmyBotError> {
        self.json(Call::get(
            "GET /api/v1/schedules/running-schedule-ids",
            "api/v1/schedules/running-schedule-ids".into(),
        ))
        .await
    }

    fn schedule_body(&self, body: &impl serde::Serialize) -> Result<serde_json::Value, ImmyBotError> {
        let mut value = serde_json::to_value(body).map_err(|e| ImmyBotError::Config(format!("schedule body: {e}")))?;
        if self.inner.enum_encoding == EnumEncoding::Names {
            enums_as_names(&mut value);
        }
        Ok(value)
    }
}
