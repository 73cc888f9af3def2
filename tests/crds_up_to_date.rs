//! The committed `crds/` must be exactly what the Rust types generate; a
//! change to `src/api` without `cargo run --bin crdgen -- crds` fails here.

#[test]
fn committed_crds_match_the_types() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let generated = immybot_operator::api::crd_files().expect("CRDs serialise");
    let mut expected_names: Vec<String> = generated.iter().map(|(name, _)| name.clone()).collect();
    for (name, yaml) in &generated {
        let committed = std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("crds/{name} is missing ({e}); run `cargo run --bin crdgen -- crds`"));
        assert!(
            committed == *yaml,
            "crds/{name} is stale: run `cargo run --bin crdgen -- crds` and commit the result"
        );
    }
    let mut committed_names: Vec<String> = std::fs::read_dir(&dir)
        .expect("crds/ exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    committed_names.sort();
    expected_names.sort();
    assert_eq!(committed_names, expected_names, "crds/ holds files no type generates");
}

#[test]
fn committed_admission_policies_match_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/admission-policies.yaml");
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("deploy/admission-policies.yaml is missing ({e}); run `cargo run --bin crdgen -- crds`")
    });
    assert!(
        committed == immybot_operator::api::admission_file().expect("policies serialise"),
        "deploy/admission-policies.yaml is stale: run `cargo run --bin crdgen -- crds` and commit the result"
    );
}

#[test]
fn committed_control_audit_policies_match_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/control-audit-policies.yaml");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == immybot_operator::api::control_audit_file().expect("policies serialise"),
        "deploy/control-audit-policies.yaml is stale: run `cargo run --bin crdgen -- crds` and commit the result"
    );
}

#[test]
fn the_design_docs_table_of_what_approvals_cover_matches_the_declaration() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/design.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let regenerated = immybot_operator::api::with_coverage_table(&committed)
        .expect("docs/design.md has the approval-coverage markers");
    assert!(
        committed == regenerated,
        "docs/design.md's table of covered fields is stale: run `cargo run --bin crdgen -- crds` and commit the result"
    );
}

#[test]
fn the_charts_copies_match_the_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut expected = immybot_operator::api::crd_files().expect("CRDs serialise");
    let policies = immybot_operator::api::admission_file().expect("policies serialise");
    expected.push(("../files/admission-policies.yaml".into(), policies));
    let audit = immybot_operator::api::control_audit_file().expect("policies serialise");
    expected.push(("../files/control-audit-policies.yaml".into(), audit));
    for (name, yaml) in expected {
        let path = root.join("charts/immybot-operator/crds").join(&name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == yaml,
            "{} is stale: run `cargo run --bin crdgen -- crds` and commit the result",
            path.display()
        );
    }
}

#[test]
fn the_api_reference_matches_the_schemas() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/api-reference.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == immybot_operator::api::api_reference_markdown(),
        "docs/api-reference.md is stale: run `cargo run --bin crdgen -- crds` and commit the result"
    );
}
