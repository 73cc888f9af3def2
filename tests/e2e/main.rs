//! End-to-end tests on a real kube-apiserver (envtest).
//!
//! One binary, one control plane: starting kube-apiserver costs seconds, so
//! every test shares it and isolates itself in its own namespace. The binary
//! uses libtest-mimic so that it can tear the control plane down after the
//! last test (libtest has no such hook) while printing libtest's summary.
#![forbid(unsafe_code)]

mod harness;

mod action_reruns;
mod admission;
mod approval_coverage;
mod blast_radius;
mod browser;
mod budget;
mod chart;
mod compliance;
mod connections;
mod crash_safety;
mod crd;
mod diagnosis;
mod faults;
mod fidelity;
mod health_gate;
mod kstatus;
mod lifecycle;
mod maintenance_schedules;
mod notifications;
mod observe_only;
mod operator_process;
mod otlp_collector;
mod pilot;
mod plans;
mod plugin;
mod poller;
mod readings;
mod report;
mod rollouts;
mod safety;
mod schedule_ownership;
mod schedules;
mod search;
mod shards;
mod tenant_rollouts;
mod windows;

use std::sync::OnceLock;

use harness::{TestContext, Testbed};
use libtest_mimic::{Arguments, Failed, Trial};

static TESTBED: OnceLock<Testbed> = OnceLock::new();

fn main() {
    if let Some(code) = harness::reexec_with_logging_wrappers() {
        std::process::exit(code);
    }
    let args = Arguments::from_args();
    let all = [
        admission::tests(),
        approval_coverage::tests(),
        budget::tests(),
        connections::tests(),
        crd::tests(),
        lifecycle::tests(),
        crash_safety::tests(),
        safety::tests(),
        fidelity::tests(),
        diagnosis::tests(),
        action_reruns::tests(),
        readings::tests(),
        observe_only::tests(),
        search::tests(),
        report::tests(),
        blast_radius::tests(),
        poller::tests(),
        faults::tests(),
        plugin::tests(),
        kstatus::tests(),
        schedules::tests(),
        schedule_ownership::tests(),
        rollouts::tests(),
        health_gate::tests(),
        notifications::tests(),
        windows::tests(),
        maintenance_schedules::tests(),
        pilot::tests(),
        plans::tests(),
        tenant_rollouts::tests(),
        chart::tests(),
        compliance::tests(),
        operator_process::tests(),
        shards::tests(),
    ]
    .concat();
    let needs_testbed = !args.list;
    if needs_testbed {
        match Testbed::start() {
            Ok(tb) => {
                let _ = TESTBED.set(tb);
            }
            Err(e) => {
                eprintln!("e2e: cannot start the control plane: {e}");
                std::process::exit(2);
            }
        }
        let setup = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|rt| {
                rt.block_on(async { harness::install_cluster_fixtures(TESTBED.get().ok_or("no testbed")?).await })
            });
        if let Err(e) = setup {
            eprintln!("e2e: cannot install the cluster fixtures: {e}");
            if let Some(tb) = TESTBED.get() {
                tb.stop();
            }
            std::process::exit(2);
        }
    }
    // The core tests also run under every other reading of what ImmyBot's
    // document leaves open: the promises must hold under each.
    let core = [
        lifecycle::tests(),
        action_reruns::tests(),
        crash_safety::tests(),
        readings::tests(),
    ]
    .concat();
    let under_readings: Vec<(String, harness::TestFn, Option<harness::invariants::Reading>)> = core
        .iter()
        .flat_map(|(name, test)| {
            harness::invariants::READINGS
                .iter()
                .map(move |r| (format!("{name} [{}]", r.name), *test, Some(*r)))
        })
        .collect();
    // Reports count rows by their own fields: a session list that ignores
    // its filter must not change a figure.
    let ignoring = harness::invariants::READINGS
        .iter()
        .find(|r| r.name == "sessions-dx-ignores-filter")
        .copied();
    let under_readings: Vec<_> = under_readings
        .into_iter()
        .chain(
            report::tests()
                .into_iter()
                .filter(|(name, _)| name.starts_with("a_report_counts"))
                .map(|(name, test)| (format!("{name} [sessions-dx-ignores-filter]"), test, ignoring)),
        )
        .collect();
    let trials = all
        .into_iter()
        .map(|(name, test)| (name, test, None))
        .chain(under_readings)
        .map(|(name, test, reading)| {
            Trial::test(name.clone(), move || {
                let testbed = TESTBED.get().ok_or_else(|| Failed::from("control plane not started"))?;
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| Failed::from(format!("tokio runtime: {e}")))?;
                runtime
                    .block_on(async {
                        let ctx = TestContext::new(testbed, &name).await?;
                        let (client, namespace) = (ctx.client.clone(), ctx.namespace.clone());
                        let (result, sims) = harness::invariants::in_trial(reading, test(ctx)).await;
                        // Whatever the test tested, the promises hold.
                        let promises = harness::invariants::check(&client, &namespace, &sims).await;
                        harness::delete_namespace(client, &namespace).await;
                        match (result, promises) {
                            (Ok(()), promises) => promises,
                            (Err(e), Ok(())) => Err(e),
                            (Err(e), Err(p)) => Err(format!("{e}\n{p}")),
                        }
                    })
                    .map_err(Failed::from)
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    if conclusion.has_failed()
        && let Some(logs) = TESTBED.get().and_then(|tb| tb.logs.clone())
    {
        eprintln!("e2e: kube-apiserver and etcd logs: {}", logs.display());
    }
    // Stop etcd and kube-apiserver before exiting; statics are never dropped.
    if let Some(testbed) = TESTBED.get() {
        testbed.stop();
    }
    conclusion.exit();
}
