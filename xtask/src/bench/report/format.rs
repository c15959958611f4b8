//! What the bench reports share: markdown tables, the targets table, and how numbers are
//! written.

use std::fmt::Write as _;

use super::Target;

/// How the columns after the first line up (the first is always left-aligned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    /// Words.
    Left,
    /// Figures.
    Right,
}

/// Writes a markdown table's header row and the separator under it.
pub(crate) fn header(out: &mut String, columns: &[impl AsRef<str>], rest: Align) {
    row(out, columns);
    let after_first = match rest {
        Align::Left => "---",
        Align::Right => "---:",
    };
    let separators: Vec<&str> = (0..columns.len())
        .map(|i| if i == 0 { "---" } else { after_first })
        .collect();
    row(out, &separators);
}

/// Writes one row of a markdown table.
pub(crate) fn row(out: &mut String, cells: &[impl AsRef<str>]) {
    let cells: Vec<&str> = cells.iter().map(AsRef::as_ref).collect();
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

/// Writes the table of the targets: each, what was measured, and whether it was met.
pub(crate) fn targets_table(out: &mut String, targets: &[Target]) {
    header(out, &["target", "measured", "status"], Align::Left);
    for target in targets {
        let status = target.status.to_string();
        row(out, &[target.target, target.measured.as_str(), &status]);
    }
}

/// `value / base` with two decimals, or a dash when either is missing or the base is not
/// positive.
pub(crate) fn ratio(value: Option<f64>, base: Option<f64>) -> String {
    match (value, base) {
        (Some(value), Some(base)) if base > 0.0 => format!("{:.2}", value / base),
        _ => "—".to_owned(),
    }
}

/// `show(value)`, or a dash when there is none.
pub(crate) fn optional<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map(show).unwrap_or_else(|| "—".to_owned())
}

/// `show(value)`, or `not measured` when there is none.
pub(crate) fn measured<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "not measured".to_string(), show)
}

/// KiB as MiB with one decimal, no unit.
pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// Microseconds as milliseconds with one decimal.
pub(crate) fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

/// KiB with one decimal, as MiB from 10 MiB on.
pub(crate) fn kib(kib: f64) -> String {
    if kib >= 10.0 * 1024.0 {
        format!("{:.1} MiB", kib / 1024.0)
    } else {
        format!("{kib:.1} KiB")
    }
}

/// Bytes, KiB or MiB, whichever reads best.
pub(crate) fn bytes(bytes: f64) -> String {
    match bytes {
        b if b >= 1024.0 * 1024.0 => format!("{:.2} MiB", b / (1024.0 * 1024.0)),
        b if b >= 1024.0 => format!("{:.1} KiB", b / 1024.0),
        b => format!("{b:.0} B"),
    }
}
