//! The background workers of one instance: status sync (attempts pending past their window or
//! UNKNOWN are queried with backoff), refund retries, the expiry sweep, webhook delivery from the
//! outbox, and the daily cut-off report of what is still unresolved. Every item is claimed with a
//! lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so any number of instances can run them.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::service::Payments;

/// Runs the workers every `interval` until the task is dropped.
pub fn spawn(payments: Arc<Payments>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_cutoff: Option<time::Date> = None;
        loop {
            let now = OffsetDateTime::now_utc();
            if let Err(e) = payments.work_once(now).await {
                tracing::warn!(target: "antin::pay", error = %e, "payment worker pass failed");
            }
            // After 23:59:59+07:00 of a day, list what is unresolved for that day (once).
            let today = now.to_offset(crate::timefmt::VIETNAM).date();
            if let Some(yesterday) = today.previous_day() {
                if last_cutoff != Some(yesterday) {
                    match payments.unresolved_at_cutoff(yesterday).await {
                        Ok(list) if list.is_empty() => {
                            tracing::info!(target: "antin::pay", date = %yesterday, "daily cut-off: nothing unresolved");
                        }
                        Ok(list) => {
                            for a in &list {
                                tracing::warn!(
                                    target: "antin::pay",
                                    date = %yesterday,
                                    payment = %a.payment_id,
                                    attempt = %a.id,
                                    gateway = %a.gateway,
                                    state = a.state.as_str(),
                                    amount = a.amount,
                                    "unresolved at the daily cut-off"
                                );
                            }
                        }
                        Err(e) => {
                            tracing::warn!(target: "antin::pay", error = %e, "cut-off report failed");
                            tokio::time::sleep(interval).await;
                            continue;
                        }
                    }
                    last_cutoff = Some(yesterday);
                }
            }
            tokio::time::sleep(interval).await;
        }
    })
}
