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

  - mesh-common: Istio's networking and security resources as Rust types
  - charts/mesh/crds: their CustomResourceDefinitions (`cargo xtask gen`)
  - the binaries mesh-proxy, mesh-controlplane, meshctl and bookinfo, which build and print
    their --help; meshctl has `completion` and `version`
  - `cargo xtask ci`: formatting, lints, the generated-file check and the test suite
";

/// Prints the plan.
pub fn run() {
    print!("{PLAN}");
}
