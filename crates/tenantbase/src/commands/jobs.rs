//! `tenantbase jobs list|dead|retry`: what the queue holds, and putting dead jobs back.

use anyhow::Context;
use chrono::Utc;
use tenantbase_core::audit::seal::seal_all;
use tenantbase_domain::JobId;
use tenantbase_domain::model::{Actor, RequestMeta, Target};
use tenantbase_domain::model::{Job, JobState};
use tenantbase_store::platform::events::NewEvent;

use crate::cli::JobsCommand;
use crate::config::Config;
use crate::connect;

pub(crate) async fn run(config: &Config, command: JobsCommand) -> anyhow::Result<()> {
    let store = connect::open_store(config).await?;
    match command {
        JobsCommand::List { state, limit } => {
            let state = state
                .map(|s| s.parse::<JobState>().map_err(anyhow::Error::msg))
                .transpose()?;
            print_jobs(&store.list_jobs(state, limit).await?);
        }
        JobsCommand::Dead { limit } => {
            print_jobs(&store.list_jobs(Some(JobState::Dead), limit).await?)
        }
        JobsCommand::Retry { id } => {
            let id: JobId = id
                .parse()
                .with_context(|| format!("`{id}` is not a job id"))?;
            // The retry and its audit event commit together.
            let mut unit = store.begin().await?;
            unit.retry_job(id, Utc::now())
                .await
                .with_context(|| format!("{id} is not a dead job"))?;
            unit.append_event(NewEvent {
                org_id: None,
                event_type: "job.retried".to_owned(),
                actor: Actor::System,
                target: Some(Target {
                    kind: "job".to_owned(),
                    id: id.to_string(),
                }),
                request: RequestMeta::default(),
                payload: serde_json::json!({"via": "cli"}),
            })
            .await?;
            unit.commit().await?;
            // A one-shot command runs no sealer: it seals what it recorded itself.
            seal_all(store.as_ref()).await?;
            println!("{id} queued again");
        }
    }
    store.close().await;
    Ok(())
}

fn print_jobs(jobs: &[Job]) {
    println!(
        "{:<36}  {:<20}  {:<9}  {:>8}  {:<27}  last error",
        "id", "kind", "state", "attempts", "run at"
    );
    for job in jobs {
        println!(
            "{:<36}  {:<20}  {:<9}  {:>4}/{:<3}  {:<27}  {}",
            job.id.to_string(),
            job.kind,
            job.state.as_str(),
            job.attempts,
            job.max_attempts,
            job.run_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            job.last_error.as_deref().unwrap_or("")
        );
    }
    println!("{} jobs", jobs.len());
}
