//! Tenants and computers: who is who in the instance, by id and by name.
//! The rarely-changing answers are reused for a while (`Lookups`, with
//! the client's `LookupAges`).

use super::{Call, ImmyBotClient};
use crate::dx::Page;
use crate::error::ImmyBotError;
use crate::wire::*;

impl ImmyBotClient {
    pub async fn computer(&self, computer_id: i32) -> Result<Computer, ImmyBotError> {
        self.json(Call::get(
            "GET /api/v1/computers/{computerId}",
            format!("api/v1/computers/{computer_id}"),
        ))
        .await
    }

    /// Computers whose name equals `name` (ImmyBot compares without case).
    /// Asks for two rows: enough to tell "one" from "ambiguous".
    /// Found names are reused for a while (`LookupAges::computers_by_name`);
    /// a name not found is asked again each time.
    pub async fn computers_named(&self, name: &str) -> Result<Vec<ComputerListItem>, ImmyBotError> {
        let lookups = &self.inner.lookups;
        let found = lookups
            .computers_by_name
            .get_or_ask(
                &name.to_lowercase(),
                lookups.ages.computers_by_name,
                |rows: &Vec<ComputerListItem>| !rows.is_empty(),
                || async {
                    let filter = serde_json::json!(["computerName", "=", name]).to_string();
                    let call = Call::get("GET /api/v1/computers/dx", "api/v1/computers/dx".into())
                        .query("skip", 0)
                        .query("take", 2)
                        .query("filter", filter);
                    let result: LoadResult = self.json(call).await?;
                    let mut page: Page<ComputerListItem> = Page::from_load_result(result, 2);
                    page.drop_rows_without_id(|c| c.id);
                    Ok::<_, ImmyBotError>(page.items)
                },
            )
            .await?;
        Ok(found.as_ref().clone())
    }

    /// The computers named `name` (case-insensitive). The `dx` list finds
    /// candidates, but its rows are untyped and some list routes silently
    /// ignore a filter they do not know; so each candidate's name is
    /// confirmed with the typed `GET /computers/{id}`.
    pub async fn computers_named_confirmed(&self, name: &str) -> Result<Vec<Computer>, ImmyBotError> {
        let mut confirmed = Vec::new();
        for row in self.computers_named(name).await? {
            let computer = self.computer(row.id).await?;
            if computer
                .computer_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
            {
                confirmed.push(computer);
            }
        }
        Ok(confirmed)
    }

    /// Every computer of one tenant (not its child tenants), paged. Rows of
    /// other tenants are dropped here: some list routes ignore a filter they
    /// do not know. Returns the rows and how many rows could not be read
    /// (the caller must not plan around computers it could not see).
    pub async fn computers_in_tenant(&self, tenant_id: i32) -> Result<(Vec<ComputerListItem>, usize), ImmyBotError> {
        const TAKE: u32 = 500;
        let filter = serde_json::json!(["tenantId", "=", tenant_id]).to_string();
        let (mut out, mut unreadable, mut skip) = (Vec::new(), 0, 0u32);
        loop {
            let call = Call::get("GET /api/v1/computers/dx", "api/v1/computers/dx".into())
                .query("skip", skip)
                .query("take", TAKE)
                .query("filter", filter.clone());
            let result: LoadResult = self.json(call).await?;
            let mut page: Page<ComputerListItem> = Page::from_load_result(result, TAKE);
            page.drop_rows_without_id(|c| c.id);
            unreadable += page.undecodable;
            out.extend(page.items.into_iter().filter(|c| c.tenant_id == tenant_id));
            if !page.full {
                return Ok((out, unreadable));
            }
            skip += TAKE;
        }
    }

    pub async fn tenant(&self, tenant_id: i32) -> Result<Tenant, ImmyBotError> {
        self.json(Call::get(
            "GET /api/v1/tenants/{id}",
            format!("api/v1/tenants/{tenant_id}"),
        ))
        .await
    }

    /// Every tenant, reused for a while (`LookupAges::tenants`).
    pub async fn tenants(&self) -> Result<Vec<Tenant>, ImmyBotError> {
        let lookups = &self.inner.lookups;
        let all = lookups
            .tenants
            .get_or_ask(
                &(),
                lookups.ages.tenants,
                |_| true,
                || self.json(Call::get("GET /api/v1/tenants", "api/v1/tenants".into())),
            )
            .await?;
        Ok(all.as_ref().clone())
    }

    /// Tenants whose name equals `name`, ignoring case. The tenant list is
    /// small (an MSP's customers), so it is filtered here; a name the
    /// reused list lacks is looked for in a fresh one (a tenant just made).
    pub async fn tenants_named(&self, name: &str) -> Result<Vec<Tenant>, ImmyBotError> {
        let named = |all: Vec<Tenant>| -> Vec<Tenant> {
            all.into_iter()
                .filter(|t| t.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))
                .collect()
        };
        let found = named(self.tenants().await?);
        if !found.is_empty() {
            return Ok(found);
        }
        self.inner.lookups.tenants.forget(&()).await;
        Ok(named(self.tenants().await?))
    }
}
