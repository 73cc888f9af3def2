//! Errors of the ImmyBot client, classified so that the controller can decide
//! what to do (retry later, back off, ask a person, give up).

use std::time::Duration;

/// What kind of failure an error is; also the metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Worth retrying: 5xx, timeouts, connection errors.
    Transient,
    /// 429: ImmyBot asked us to slow down.
    RateLimited,
    /// 401/403 or the token endpoint refused: a person must fix credentials.
    Auth,
    /// 404: the session, computer or tenant does not exist.
    NotFound,
    /// ImmyBot refuses a second session on a busy computer.
    AlreadyInProgress,
    /// Any other 4xx, or bad configuration: retrying will not help.
    Permanent,
    /// The answer was not what the document describes.
    Decode,
}

impl ErrorKind {
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Transient => "transient",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Auth => "auth",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyInProgress => "already_in_progress",
            ErrorKind::Permanent => "permanent",
            ErrorKind::Decode => "decode",
        }
    }
}

/// How much of a response body an error keeps: enough to diagnose, not
/// enough to carry a whole page (or anything sensitive it might echo) into
/// logs and status.
pub const MAX_BODY_IN_ERROR: usize = 300;

/// An ImmyBot client error. Messages name the route template
/// (`GET /api/v1/maintenance-sessions/{id}`), never tokens or secrets.
#[derive(Debug, thiserror::Error)]
pub enum ImmyBotError {
    #[error("ImmyBot answered {status} to {route}: {body}")]
    Status {
        route: &'static str,
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    #[error("ImmyBot answered its web app's HTML page to {route} instead of JSON; the path or base URL is wrong")]
    HtmlPage { route: &'static str },
    #[error("ImmyBot answered {route} with content type {content_type:?}, expected JSON")]
    ContentType { route: &'static str, content_type: String },
    #[error("cannot decode ImmyBot's answer to {route}: {message}")]
    Decode { route: &'static str, message: String },
    #[error("{route} timed out after {after:?}")]
    Timeout { route: &'static str, after: Duration },
    #[error("cannot reach ImmyBot for {route}: {message}")]
    Connect {
        route: &'static str,
        message: String,
        sent: bool,
    },
    #[error("the token endpoint refused the client credentials ({status}): {body}")]
    TokenRefused { status: u16, body: String },
    #[error("cannot get a token: {message}")]
    TokenUnavailable { message: String },
    #[error("invalid ImmyBot client configuration: {0}")]
    Config(String),
}

impl ImmyBotError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ImmyBotError::Status { status, .. } => match status {
                429 => ErrorKind::RateLimited,
                401 | 403 => ErrorKind::Auth,
                404 => ErrorKind::NotFound,
                // GUESS: the notes say ImmyBot refuses a second session on a
                // busy computer but not with which status; 409 is the HTTP
                // convention. The start response's `sessionsAlreadyInProgress`
                // is the documented signal and is handled in `start.rs`.
                409 => ErrorKind::AlreadyInProgress,
                408 | 500..=599 => ErrorKind::Transient,
                _ => ErrorKind::Permanent,
            },
            ImmyBotError::HtmlPage { .. } | ImmyBotError::ContentType { .. } | ImmyBotError::Decode { .. } => {
                ErrorKind::Decode
            }
            ImmyBotError::Timeout { .. } | ImmyBotError::Connect { .. } | ImmyBotError::TokenUnavailable { .. } => {
                ErrorKind::Transient
            }
            ImmyBotError::TokenRefused { status, .. } if *status >= 500 => ErrorKind::Transient,
            ImmyBotError::TokenRefused { .. } => ErrorKind::Auth,
            ImmyBotError::Config(_) => ErrorKind::Permanent,
        }
    }

    /// For the start call: whether ImmyBot may have acted although we got no
    /// answer we can trust. Then the caller must look the sessions up by
    /// `sessionGroupId` before it starts anything again.
    pub fn start_outcome_unknown(&self) -> bool {
        match self {
            ImmyBotError::Status { status, .. } => *status >= 500,
            ImmyBotError::Timeout { .. } | ImmyBotError::Decode { .. } | ImmyBotError::ContentType { .. } => true,
            ImmyBotError::HtmlPage { .. } => false,
            ImmyBotError::Connect { sent, .. } => *sent,
            _ => false,
        }
    }

    /// How long ImmyBot asked us to wait, for a 429.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ImmyBotError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Keeps the first [`MAX_BODY_IN_ERROR`] characters of a body, on one line.
pub fn truncate_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(MAX_BODY_IN_ERROR) {
        Some((cut, _)) => format!("{}… ({} bytes)", &one_line[..cut], body.len()),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> ImmyBotError {
        ImmyBotError::Status {
            route: "GET /x",
            status: code,
            body: String::new(),
            retry_after: None,
        }
    }

    #[test]
    fn classifies_statuses() {
        let kinds: Vec<_> = [429, 401, 403, 404, 409, 500, 503, 400, 422]
            .map(|s| status(s).kind())
            .into();
        use ErrorKind::*;
        assert_eq!(
            kinds,
            vec![
                RateLimited,
                Auth,
                Auth,
                NotFound,
                AlreadyInProgress,
                Transient,
                Transient,
                Permanent,
                Permanent
            ]
        );
        assert_eq!(ImmyBotError::HtmlPage { route: "GET /x" }.kind(), Decode);
        assert_eq!(
            ImmyBotError::Timeout {
                route: "GET /x",
                after: Duration::from_secs(1)
            }
            .kind(),
            Transient
        );
    }

    #[test]
    fn start_outcome_is_unknown_only_when_immybot_may_have_acted() {
        assert!(status(502).start_outcome_unknown());
        assert!(!status(400).start_outcome_unknown());
        assert!(!status(429).start_outcome_unknown());
        assert!(
            ImmyBotError::Connect {
                route: "POST /x",
                message: "reset".into(),
                sent: true
            }
            .start_outcome_unknown()
        );
        assert!(
            !ImmyBotError::Connect {
                route: "POST /x",
                message: "refused".into(),
                sent: false
            }
            .start_outcome_unknown()
        );
    }

    #[test]
    fn bodies_are_truncated_to_one_line() {
        let long = "x".repeat(5000);
        let cut = truncate_body(long.as_bytes());
        assert!(cut.len() < MAX_BODY_IN_ERROR + 40, "{}", cut.len());
        assert!(cut.ends_with("(5000 bytes)"));
        assert_eq!(truncate_body(b"a\n  b"), "a b");
    }
}
