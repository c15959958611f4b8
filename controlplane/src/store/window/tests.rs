use super::*;

const QUIET: Duration = Duration::from_millis(100);
const MAX: Duration = Duration::from_secs(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn the_first_change_is_leading_and_one_within_the_window_is_not() {
    let t0 = Instant::now();
    let mut window = Window::new(QUIET, MAX);
    let first = window.open(t0);
    assert!(first.leading);
    // 60 ms later: inside the window of the first change.
    let second = window.open(t0 + ms(60));
    assert!(!second.leading);
    assert_eq!(window.due(&second), t0 + ms(160));
    // A change exactly one window after the last is leading again.
    let third = window.open(t0 + ms(160));
    assert!(third.leading);
}

#[test]
fn a_change_of_the_burst_moves_its_trailing_edge_up_to_the_max() {
    let t0 = Instant::now();
    let mut window = Window::new(QUIET, MAX);
    window.open(t0);
    let burst = window.open(t0 + ms(10));
    assert_eq!(window.due(&burst), t0 + ms(110));
    window.add(t0 + ms(50));
    assert_eq!(window.due(&burst), t0 + ms(150));
    // Changes every 25 ms: never quiet, so the max from the burst's first change decides.
    for n in 3..=40 {
        window.add(t0 + ms(25 * n));
    }
    assert_eq!(window.due(&burst), t0 + ms(1010));
}

#[test]
fn without_a_quiet_window_every_change_is_leading() {
    let t0 = Instant::now();
    let mut window = Window::new(Duration::ZERO, Duration::ZERO);
    for n in 0..3 {
        let burst = window.open(t0 + ms(n));
        assert!(burst.leading);
        assert_eq!(window.due(&burst), t0 + ms(n));
    }
}

#[test]
fn a_trailing_window_never_leads_unless_it_is_zero() {
    let t0 = Instant::now();
    let mut window = Window::trailing(QUIET, MAX);
    let first = window.open(t0);
    assert!(!first.leading);
    assert_eq!(window.due(&first), t0 + ms(100));
    let later = window.open(t0 + ms(500));
    assert!(!later.leading);
    assert_eq!(window.due(&later), t0 + ms(600));
    let mut none = Window::trailing(Duration::ZERO, Duration::ZERO);
    assert!(none.open(t0).leading);
}
