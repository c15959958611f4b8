//! `cargo xtask demo`: the bookinfo sample, meshed, on one machine with no cluster.
//!
//! The local mesh does not exist yet. Until it does, this prints what it will run and what
//! exists today, and starts nothing: a newcomer sees the plan instead of a command that
//! pretends.

/// What the local demo will run, and how far along it is.
pub const PLAN: &str = "\
mesh.rs local demo: the bookinfo sample, meshed, on this machine, with no cluster.

The local mesh is not available yet; nothing was started. When it is, this command will run:

  1. mesh-controlplane in file mode: the Istio resources of samples/bookinfo read from a
     directory instead of Kubernetes, served over xDS on 127.0.0.1:15010
  2. the bookinfo services, one process each: productpage, details, reviews v1/v2/v3, ratings
  3. one mesh-proxy beside each service, with mutual TLS between them
  4. an ingress gateway (a mesh-proxy) on 127.0.0.1:8080: open http://127.0.0.1:8080/productpage
  5. the dashboard

What exists today:

  - mesh-common: Istio's networking and security resources as Rust types, their validation,
    the table of which fields mesh.rs honours (docs/istio-support.md), and the YAML loader
  - charts/mesh/crds: their CustomResourceDefinitions (`cargo xtask gen`)
  - bookinfo: the four services, runnable on their own (samples/bookinfo/README.md)
  - mesh-proxy: `mesh-proxy init` (the iptables capture rules), protocol detection, the
    routing tables and load balancers the data path will use
  - mesh-controlplane: the service model built from Kubernetes objects and Istio resources
  - mesh-xds: Envoy configuration read and written as JSON, checked against a real Envoy
  - `cargo xtask ci`: formatting, lints, the generated-file check and the test suite
";

/// Prints the plan.
pub fn run() {
    print!("{PLAN}");
}
