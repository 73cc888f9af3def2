//! Which connection an object uses: its `spec.connectionRef`, or the
//! default. Pure: the registry feeds it what the watches hold.

use crate::api::{ConnectionKind, ConnectionRef};

/// A connection, absolutely: a namespaced one carries its namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnectionKey {
    /// The operator's own flags (`--immybot-url` and the rest).
    Flags,
    Namespaced {
        namespace: String,
        name: String,
    },
    Cluster {
        name: String,
    },
}

impl ConnectionKey {
    /// The connection `reference` names for an object in `namespace`.
    pub fn of(reference: &ConnectionRef, namespace: &str) -> Self {
        match reference.kind {
            ConnectionKind::ImmyBotConnection => ConnectionKey::Namespaced {
                namespace: namespace.to_owned(),
                name: reference.name.clone(),
            },
            ConnectionKind::ClusterImmyBotConnection => ConnectionKey::Cluster {
                name: reference.name.clone(),
            },
        }
    }

    /// What an object's status records: `None` for the flags.
    pub fn reference(&self) -> Option<ConnectionRef> {
        match self {
            ConnectionKey::Flags => None,
            ConnectionKey::Namespaced { name, .. } => Some(ConnectionRef {
                kind: ConnectionKind::ImmyBotConnection,
                name: name.clone(),
            }),
            ConnectionKey::Cluster { name } => Some(ConnectionRef {
                kind: ConnectionKind::ClusterImmyBotConnection,
                name: name.clone(),
            }),
        }
    }

    /// The key an object's status records (`None`: the flags).
    pub fn recorded(reference: Option<&ConnectionRef>, namespace: &str) -> Self {
        reference.map_or(ConnectionKey::Flags, |r| Self::of(r, namespace))
    }
}

impl std::fmt::Display for ConnectionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectionKey::Flags => f.write_str("the operator's own connection (--immybot-url)"),
            ConnectionKey::Namespaced { namespace, name } => write!(f, "ImmyBotConnection {namespace}/{name}"),
            ConnectionKey::Cluster { name } => write!(f, "ClusterImmyBotConnection {name}"),
        }
    }
}

/// Why an object has no connection to use; each says what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionProblem {
    #[error("{0} does not exist; create it or change spec.connectionRef")]
    NotFound(ConnectionKey),
    #[error("{key} is not ready: {why}")]
    NotReady { key: ConnectionKey, why: String },
    #[error("several {kind}s are marked default ({names}); mark only one, or name a connection in spec.connectionRef")]
    AmbiguousDefault { kind: ConnectionKind, names: String },
    /// The connection an object started through now points elsewhere: its
    /// sessions are not looked for (and never started again) on another
    /// instance.
    #[error(
        "{key} now reaches {now}, but this object's sessions were started on {was}; recreate the connection with its old URL"
    )]
    Moved {
        key: ConnectionKey,
        was: String,
        now: String,
    },
}

impl ConnectionProblem {
    /// A condition reason (CamelCase).
    pub fn reason(&self) -> &'static str {
        match self {
            ConnectionProblem::NotFound(_) => "ConnectionNotFound",
            ConnectionProblem::NotReady { .. } => "ConnectionNotReady",
            ConnectionProblem::AmbiguousDefault { .. } => "AmbiguousDefaultConnection",
            ConnectionProblem::Moved { .. } => "ConnectionMoved",
        }
    }
}

/// The connection for an object in `namespace` naming `reference`: that
/// one, or the default (an ImmyBotConnection of the namespace marked
/// default, then a ClusterImmyBotConnection marked default, then the
/// flags). `*_defaults` are the names marked default.
pub fn choose(
    reference: Option<&ConnectionRef>,
    namespace: &str,
    namespaced_defaults: &[String],
    cluster_defaults: &[String],
) -> Result<ConnectionKey, ConnectionProblem> {
    if let Some(r) = reference {
        return Ok(ConnectionKey::of(r, namespace));
    }
    let pick = |kind: ConnectionKind, names: &[String]| -> Result<Option<String>, ConnectionProblem> {
        match names {
            [] => Ok(None),
            [one] => Ok(Some(one.clone())),
            many => {
                let mut sorted = many.to_vec();
                sorted.sort();
                Err(ConnectionProblem::AmbiguousDefault {
                    kind,
                    names: sorted.join(", "),
                })
            }
        }
    };
    if let Some(name) = pick(ConnectionKind::ImmyBotConnection, namespaced_defaults)? {
        return Ok(ConnectionKey::Namespaced {
            namespace: namespace.to_owned(),
            name,
        });
    }
    if let Some(name) = pick(ConnectionKind::ClusterImmyBotConnection, cluster_defaults)? {
        return Ok(ConnectionKey::Cluster { name });
    }
    Ok(ConnectionKey::Flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(kind: ConnectionKind, name: &str) -> ConnectionRef {
        ConnectionRef {
            kind,
            name: name.into(),
        }
    }

    #[test]
    fn a_named_connection_wins_over_every_default() {
        let r = named(ConnectionKind::ClusterImmyBotConnection, "prod");
        let key = choose(Some(&r), "team-a", &["lab".into()], &["other".into()]).unwrap();
        assert_eq!(key, ConnectionKey::Cluster { name: "prod".into() });
        let r = named(ConnectionKind::ImmyBotConnection, "own");
        let key = choose(Some(&r), "team-a", &[], &[]).unwrap();
        assert_eq!(
            key,
            ConnectionKey::Namespaced {
                namespace: "team-a".into(),
                name: "own".into()
            }
        );
    }

    #[test]
    fn the_namespace_default_comes_before_the_cluster_default_before_the_flags() {
        assert_eq!(
            choose(None, "ns", &["lab".into()], &["prod".into()]).unwrap(),
            ConnectionKey::Namespaced {
                namespace: "ns".into(),
                name: "lab".into()
            }
        );
        assert_eq!(
            choose(None, "ns", &[], &["prod".into()]).unwrap(),
            ConnectionKey::Cluster { name: "prod".into() }
        );
        assert_eq!(choose(None, "ns", &[], &[]).unwrap(), ConnectionKey::Flags);
    }

    #[test]
    fn two_defaults_at_one_level_serve_nobody_and_are_named() {
        let err = choose(None, "ns", &["b".into(), "a".into()], &[]).unwrap_err();
        assert_eq!(err.reason(), "AmbiguousDefaultConnection");
        assert!(err.to_string().contains("(a, b)"), "{err}");
        // Not even falling through to a single cluster default.
        assert!(choose(None, "ns", &["a".into(), "b".into()], &["prod".into()]).is_err());
        assert!(choose(None, "ns", &[], &["x".into(), "y".into()]).is_err());
    }

    #[test]
    fn what_status_records_names_the_same_connection_again() {
        for key in [
            ConnectionKey::Flags,
            ConnectionKey::Cluster { name: "c".into() },
            ConnectionKey::Namespaced {
                namespace: "ns".into(),
                name: "n".into(),
            },
        ] {
            assert_eq!(ConnectionKey::recorded(key.reference().as_ref(), "ns"), key);
        }
    }
}
