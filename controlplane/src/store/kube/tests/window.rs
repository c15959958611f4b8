//! When the cluster store publishes: an endpoint event after a quiet window at once, any other
//! event, and those within the window of one, at the trailing edge. On tokio's paused clock.

use std::{path::Path, time::Duration};

use mesh_common::load::{LoadOptions, Loader};
use pretty_assertions::assert_eq;
use tokio::{sync::mpsc, time::Instant};

use super::super::{KubeStore, MAX_DELAY};
use super::*;
use crate::{model::test_support::service, store::Window};

const QUIET: Duration = Duration::from_millis(100);
const KINDS: [LoadedKind; 3] = [
    LoadedKind::Service,
    LoadedKind::EndpointSlice,
    LoadedKind::Pod,
];
const WEB_1: &str = "198.18.0.10";
const WEB_2: &str = "198.18.0.11";

/// `web`'s objects for these pod addresses, with a second port when `second_port`.
fn web(pods: &[&str], second_port: bool) -> Vec<Item> {
    let mut yaml = service("web", "a", "198.19.0.10", pods);
    if second_port {
        yaml = yaml.replace(
            "ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]",
            "ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}, \
             {name: http-2, port: 81, targetPort: 8080, protocol: TCP}]",
        );
    }
    let mut loader = Loader::new(LoadOptions::default());
    loader.add_str(&yaml, Path::new("cluster.yaml"));
    let loaded = loader.finish();
    assert_eq!(loaded.errors, vec![], "the fixture loads");
    let items = loaded.resources.into_iter().map(|l| Item::of(l.object));
    items.collect()
}

fn of_kind(items: Vec<Item>, kind: LoadedKind) -> Vec<Update> {
    let items = items.into_iter().filter(|item| item.key.kind == kind);
    items.map(Update::Apply).collect()
}

/// A store that has listed `web` with one pod and been quiet since; what it publishes from
/// now on goes to the returned receiver as (ms from now, web's ports, web's addresses).
async fn listed(
    debounce_endpoints: bool,
) -> (
    KubeStore,
    mpsc::UnboundedSender<Update>,
    mpsc::UnboundedReceiver<(u64, Vec<u16>, Vec<String>)>,
    Instant,
) {
    let (updates, updates_rx) = mpsc::unbounded_channel();
    let window = Window::for_store(QUIET, MAX_DELAY, debounce_endpoints);
    let store = KubeStore::from_updates(updates_rx, KINDS.to_vec(), MeshConfig::default(), window);
    for kind in KINDS {
        updates.send(Update::Relist(kind)).unwrap();
    }
    for item in web(&[WEB_1], false) {
        updates.send(Update::Listed(item)).unwrap();
    }
    for kind in KINDS {
        updates.send(Update::RelistDone(kind)).unwrap();
    }
    store.listed().wait_for(|listed| *listed).await.unwrap();
    tokio::time::sleep(QUIET * 2).await;
    let start = Instant::now();
    let mut snapshots = store.snapshots();
    snapshots.borrow_and_update();
    let (published_tx, published) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while snapshots.changed().await.is_ok() {
            let snapshot = snapshots.borrow_and_update().clone();
            let web = &snapshot.services()[0];
            let ports = web.ports.iter().map(|p| p.number).collect();
            let addresses = web.endpoints.iter().map(|e| e.address.clone()).collect();
            let at = start.elapsed().as_millis() as u64;
            if published_tx.send((at, ports, addresses)).is_err() {
                return;
            }
        }
    });
    (store, updates, published, start)
}

/// Sends `updates` at `at` ms from `start`.
async fn send_at(
    sender: &mpsc::UnboundedSender<Update>,
    start: Instant,
    at: u64,
    updates: Vec<Update>,
) {
    tokio::time::sleep_until(start + Duration::from_millis(at)).await;
    for update in updates {
        sender.send(update).unwrap();
    }
}

async fn published_until(
    published: &mut mpsc::UnboundedReceiver<(u64, Vec<u16>, Vec<String>)>,
    start: Instant,
    until: u64,
) -> Vec<(u64, Vec<u16>, Vec<String>)> {
    tokio::time::sleep_until(start + Duration::from_millis(until)).await;
    let mut all = Vec::new();
    while let Ok(one) = published.try_recv() {
        all.push(one);
    }
    all
}

fn strings(addresses: &[&str]) -> Vec<String> {
    addresses.iter().map(|a| a.to_string()).collect()
}

#[tokio::test(start_paused = true)]
async fn a_lone_endpoint_event_is_published_at_once() {
    let (_store, updates, mut published, start) = listed(false).await;
    let mut endpoints = of_kind(web(&[WEB_1, WEB_2], false), LoadedKind::Pod);
    endpoints.extend(of_kind(
        web(&[WEB_1, WEB_2], false),
        LoadedKind::EndpointSlice,
    ));
    send_at(&updates, start, 0, endpoints).await;
    assert_eq!(
        published_until(&mut published, start, 2000).await,
        [(0, vec![80], strings(&[WEB_1, WEB_2]))]
    );
}

#[tokio::test(start_paused = true)]
async fn with_debounce_endpoints_an_endpoint_event_waits_for_the_window() {
    let (_store, updates, mut published, start) = listed(true).await;
    let slice = of_kind(web(&[WEB_1, WEB_2], false), LoadedKind::EndpointSlice);
    send_at(&updates, start, 0, slice).await;
    assert_eq!(
        published_until(&mut published, start, 2000).await,
        [(100, vec![80], strings(&[WEB_1, WEB_2]))]
    );
}

#[tokio::test(start_paused = true)]
async fn a_service_event_then_an_endpoint_event_are_published_together_at_the_trailing_edge() {
    let (_store, updates, mut published, start) = listed(false).await;
    let service = of_kind(web(&[WEB_1], true), LoadedKind::Service);
    send_at(&updates, start, 0, service).await;
    let mut endpoints = of_kind(web(&[WEB_1, WEB_2], true), LoadedKind::Pod);
    endpoints.extend(of_kind(
        web(&[WEB_1, WEB_2], true),
        LoadedKind::EndpointSlice,
    ));
    send_at(&updates, start, 10, endpoints).await;
    assert_eq!(
        published_until(&mut published, start, 2000).await,
        [(110, vec![80, 81], strings(&[WEB_1, WEB_2]))]
    );
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_burst_is_published_twice() {
    let (_store, updates, mut published, start) = listed(false).await;
    for n in 0..10 {
        let pods: &[&str] = if n % 2 == 0 {
            &[WEB_1, WEB_2]
        } else {
            &[WEB_1]
        };
        let mut endpoints = of_kind(web(pods, false), LoadedKind::Pod);
        endpoints.extend(of_kind(web(pods, false), LoadedKind::EndpointSlice));
        send_at(&updates, start, n * 10, endpoints).await;
    }
    assert_eq!(
        published_until(&mut published, start, 2000).await,
        [
            (0, vec![80], strings(&[WEB_1, WEB_2])),
            (190, vec![80], strings(&[WEB_1])),
        ]
    );
}
