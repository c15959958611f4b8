use http_body_util::BodyExt;

use super::*;
use crate::http::body;

fn chunks(sizes: &[usize]) -> ProxyBody {
    let frames: Vec<Result<Frame<Bytes>, BoxError>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| Ok(Frame::data(Bytes::from(vec![b'a' + i as u8; n]))))
        .collect();
    http_body_util::StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
}

#[tokio::test]
async fn both_sides_get_every_byte() {
    let (shadow, tap) = tap(SizeHint::default());
    let main = Tee::new(chunks(&[3, 4, 5]), vec![tap]);
    let main = main.collect().await.unwrap().to_bytes();
    assert_eq!(&main[..], b"aaabbbbccccc");
    let shadow = shadow.collect().await.unwrap().to_bytes();
    assert_eq!(shadow, main);
}

#[tokio::test]
async fn a_shadow_that_falls_behind_is_cut_off_and_the_main_body_goes_on() {
    let (shadow, tap) = tap(SizeHint::default());
    let half = SHADOW_BODY_BUFFER / 2 + 1;
    let main = Tee::new(chunks(&[half, half, 10]), vec![tap]);
    // Nobody reads the shadow while the main body is read whole.
    let main = main.collect().await.unwrap().to_bytes();
    assert_eq!(main.len(), 2 * half + 10);
    let error = shadow.collect().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the mirrored request body was cut off: the shadow fell behind or the request failed"
    );
}

#[tokio::test]
async fn a_failed_request_body_fails_the_shadow_body() {
    let (shadow, tap) = tap(SizeHint::default());
    let frames: Vec<Result<Frame<Bytes>, BoxError>> = vec![
        Ok(Frame::data(Bytes::from_static(b"x"))),
        Err("client went away".into()),
    ];
    let inner = http_body_util::StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync();
    let main = Tee::new(inner, vec![tap]);
    assert!(main.collect().await.is_err());
    let mut shadow = shadow;
    let first = shadow.frame().await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), Bytes::from_static(b"x"));
    assert!(shadow.frame().await.unwrap().is_err());
}

#[tokio::test]
async fn a_main_body_dropped_at_its_end_completes_the_shadow() {
    let (shadow, tap) = tap(SizeHint::with_exact(2));
    let mut main = Tee::new(body::full("hi"), vec![tap]);
    let frame = main.frame().await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), Bytes::from_static(b"hi"));
    drop(main);
    assert_eq!(shadow.size_hint().exact(), Some(2));
    assert_eq!(
        shadow.collect().await.unwrap().to_bytes(),
        Bytes::from_static(b"hi")
    );
}
