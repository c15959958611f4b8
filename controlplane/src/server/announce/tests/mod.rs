mod ads;
mod window;

use std::time::Duration;

use mesh_testing::eventually;
use pretty_assertions::assert_eq;

use super::*;
use crate::{
    mesh_config::MeshConfig,
    server::{
        Metrics,
        fixtures::{Files, PRIVATE_VS, two_namespaces},
        metrics::Observed,
    },
    xds::{Affected, Proxies, ProxyClass, Reach, Target, Within},
};

/// Bounds every wait; a correct control plane answers in milliseconds.
pub(super) const PATIENCE: Duration = Duration::from_secs(10);

/// The next change announced.
async fn next_change(changes: &mut watch::Receiver<Changed>) -> Changed {
    tokio::time::timeout(PATIENCE, changes.changed())
        .await
        .expect("announced in time")
        .expect("announcer running");
    changes.borrow_and_update().clone()
}

fn sidecar_in(namespace: &str) -> Target {
    Target {
        class: Some(ProxyClass::Sidecar),
        namespace: Some(namespace.to_string()),
        ips: Vec::new(),
    }
}

#[tokio::test]
async fn each_change_is_announced_with_its_scope_and_no_change_is_not() {
    let mut files = Files::new(MeshConfig::default());
    let base = two_namespaces(false);
    let (snapshots, rx) = watch::channel(files.load(&base));
    let generator = Arc::new(ModelGenerator::new(rx.clone(), Arc::new(Metrics::new())));
    let (changes_tx, mut changes) = watch::channel(Changed::default());
    let task = tokio::spawn(announce(
        rx,
        changes_tx,
        Arc::clone(&generator),
        Arc::new(StatusRegistry::new()),
    ));
    snapshots.send_replace(files.load(&format!("{base}{PRIVATE_VS}")));
    assert_eq!(
        next_change(&mut changes).await,
        Changed {
            version: 1,
            scope: Scope::Some(Affected {
                all_types: Proxies {
                    sidecars: Within::Namespaces(["a".to_string()].into()),
                    ..Proxies::default()
                },
                endpoints: Proxies::default(),
            }),
        }
    );
    // The same config again, as a relist may publish it: nothing to push.
    let rendered = || {
        generator.metrics().render(&Observed {
            status: &StatusRegistry::new().snapshot(),
            load_errors: &[],
            snapshot_version: 0,
        })
    };
    snapshots.send_replace(files.load(&format!("{base}{PRIVATE_VS}")));
    let none = "mesh_controlplane_config_changes_total{scope=\"none\"} 1";
    eventually(|| async { rendered().contains(none).then_some(()) })
        .await
        .unwrap();
    // The mesh without the VirtualService is the next change, numbered 2: none came between.
    snapshots.send_replace(files.load(&base));
    let second = next_change(&mut changes).await;
    assert_eq!(second.version, 2);
    assert_eq!(second.scope.reach(&sidecar_in("a")), Reach::All);
    assert_eq!(second.scope.reach(&sidecar_in("b")), Reach::None);
    let scoped = "mesh_controlplane_config_changes_total{scope=\"scoped\"} 2";
    assert!(rendered().contains(scoped), "{}", rendered());
    drop(snapshots);
    tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap();
}
