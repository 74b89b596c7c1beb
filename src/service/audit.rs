//! The security log: every security-relevant change to an account is
//! recorded with when, who did it, and the request's address and user
//! agent. The HTTP layer sets those around each state-changing request
//! ([`REQUEST`]); operator commands have none. Never a secret: events hold
//! names and ids (a key's id, a client's id), never tokens, codes or passwords.

use crate::domain::{NewSecurityEvent, SecurityEvent};

use super::{Caller, Service, ServiceResult};

tokio::task_local! {
    /// The request being handled, for the events it records.
    pub static REQUEST: RequestMeta;
}

#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl RequestMeta {
    pub fn new(ip: String, user_agent: Option<&str>) -> Self {
        // A user agent is the client's own text: kept short and printable.
        let ua = user_agent.map(|u| u.chars().filter(|c| !c.is_control()).take(256).collect());
        RequestMeta { ip: Some(ip), user_agent: ua }
    }

    pub fn current() -> RequestMeta {
        REQUEST.try_with(Clone::clone).unwrap_or_default()
    }
}

/// Who did it.
pub mod actor {
    pub const USER: &str = "user";
    pub const OPERATOR: &str = "operator";
    pub const CLIENT_DELETION: &str = "client deletion";
    pub const REPLAYED_CODE: &str = "replayed code";
    pub const SOMEONE: &str = "someone";
}

/// Events shown on one screen of the dashboard, and per API page.
pub const EVENTS_PER_PAGE: i64 = 50;

impl Service {
    /// Records an event. A failure is logged, never the action's failure.
    pub async fn record(
        &self,
        user_id: Option<i64>,
        event: &str,
        actor: &str,
        client_id: Option<&str>,
        detail: Option<&str>,
    ) {
        let meta = RequestMeta::current();
        let e = NewSecurityEvent {
            at: self.now_ms(),
            user_id,
            event,
            actor,
            client_id,
            detail,
            ip: meta.ip.as_deref(),
            user_agent: meta.user_agent.as_deref(),
        };
        if let Err(err) = self.store.insert_security_event(&e).await {
            tracing::warn!(error = %err, event, "could not record a security event");
        }
    }

    /// A page of the user's own log, newest first, before the event `before`;
    /// and whether older events remain.
    pub async fn security_log(
        &self,
        caller: &Caller,
        user_id: i64,
        before: Option<i64>,
    ) -> ServiceResult<(Vec<SecurityEvent>, bool)> {
        caller.session_self(user_id)?;
        let mut events = self.store.security_events_of(user_id, before, EVENTS_PER_PAGE + 1).await?;
        let more = events.len() as i64 > EVENTS_PER_PAGE;
        events.truncate(EVENTS_PER_PAGE as usize);
        Ok((events, more))
    }
}
