//! Any first bytes of a connection: detection must not panic, and what it decides must not
//! change as more bytes arrive.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_proxy::detect::{Detection, Protocol, detect};

fuzz_target!(|data: &[u8]| {
    let whole = detect(data);
    if let Detection::Done(Protocol::Tls { sni: Some(sni), .. }) = &whole {
        assert!(!sni.is_empty() && sni.bytes().all(|b| b.is_ascii_graphic()));
        assert_eq!(sni, &sni.to_ascii_lowercase());
    }
    // Every prefix is either undecided or already decided the same way.
    let mut decided = None;
    for n in 0..=data.len().min(4096) {
        match (detect(&data[..n]), &decided) {
            (Detection::NeedMore, None) => {}
            (Detection::Done(protocol), None) => decided = Some(protocol),
            (Detection::Done(protocol), Some(first))
                if std::mem::discriminant(&protocol) == std::mem::discriminant(first) => {}
            (later, first) => panic!("at {n} bytes {later:?} after {first:?}"),
        }
    }
});
