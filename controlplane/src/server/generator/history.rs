//! The scopes of the latest snapshot changes, so that a translation made at an older snapshot
//! can be kept when no change since reached its proxy.

use std::collections::VecDeque;

use crate::xds::{Reach, Scope, Target};

/// How many changes are remembered: a proxy translated before them is translated anew.
const KEPT: usize = 64;

/// The latest changes, oldest first.
#[derive(Debug, Default)]
pub(super) struct History {
    steps: VecDeque<Step>,
}

/// One change: from the snapshot of version `from` to that of `to`.
#[derive(Debug)]
struct Step {
    from: u64,
    to: u64,
    scope: Scope,
}

// === impl History ===

impl History {
    /// Records the change from snapshot `from` to snapshot `to`.
    pub(super) fn record(&mut self, from: u64, to: u64, scope: Scope) {
        if self.steps.len() == KEPT {
            self.steps.pop_front();
        }
        self.steps.push_back(Step { from, to, scope });
    }

    /// How far the changes from snapshot `from` to snapshot `to` reach `target`: every type
    /// when a change between them is not known (forgotten, or not recorded yet).
    pub(super) fn reach(&self, from: u64, to: u64, target: &Target) -> Reach {
        if from == to {
            return Reach::None;
        }
        let mut at = from;
        let mut reach = Reach::None;
        for step in &self.steps {
            if step.from != at {
                continue;
            }
            reach = reach.max(step.scope.reach(target));
            at = step.to;
            if at == to {
                return reach;
            }
        }
        Reach::All
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::xds::{Affected, Proxies, ProxyClass, Within};

    fn endpoints_of(namespace: &str) -> Scope {
        Scope::Some(Affected {
            all_types: Proxies::default(),
            endpoints: Proxies {
                sidecars: Within::Namespaces(BTreeSet::from([namespace.to_string()])),
                ..Proxies::default()
            },
        })
    }

    #[test]
    fn the_reach_of_a_chain_of_changes_is_the_widest_and_a_gap_is_everything() {
        let mut history = History::default();
        history.record(3, 5, endpoints_of("a"));
        history.record(5, 6, Scope::none());
        history.record(6, 9, Scope::Namespaces(BTreeSet::from(["b".to_string()])));
        let target = |namespace: &str| Target {
            class: Some(ProxyClass::Sidecar),
            namespace: Some(namespace.to_string()),
            ips: Vec::new(),
        };
        assert_eq!(history.reach(3, 6, &target("a")), Reach::Endpoints);
        assert_eq!(history.reach(3, 6, &target("b")), Reach::None);
        assert_eq!(history.reach(3, 9, &target("b")), Reach::All);
        assert_eq!(history.reach(5, 6, &target("a")), Reach::None);
        assert_eq!(history.reach(6, 6, &target("a")), Reach::None);
        // 4 was never a step's start: not known.
        assert_eq!(history.reach(4, 6, &target("a")), Reach::All);
        assert_eq!(history.reach(3, 10, &target("a")), Reach::All);
        for version in 0..KEPT as u64 {
            history.record(100 + version, 101 + version, Scope::none());
        }
        // The first steps are forgotten.
        assert_eq!(history.reach(3, 6, &target("b")), Reach::All);
        assert_eq!(
            history.reach(100, 101 + KEPT as u64 - 1, &target("b")),
            Reach::None
        );
    }
}
