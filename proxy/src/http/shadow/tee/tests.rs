use std::time::Duration;

use http_body_util::BodyExt;

use super::*;
use crate::http::body;

/// A deadline the tests never reach.
fn later() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

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
    let main = Tee::new(chunks(&[3, 4, 5]), vec![tap], later());
    let main = main.collect().await.unwrap().to_bytes();
    assert_eq!(&main[..], b"aaabbbbccccc");
    let shadow = shadow.collect().await.unwrap().to_bytes();
    assert_eq!(shadow, main);
}

#[tokio::test]
async fn a_shadow_that_falls_behind_is_cut_off_and_the_main_body_goes_on() {
    let (shadow, tap) = tap(SizeHint::default());
    let half = SHADOW_BODY_BUFFER / 2 + 1;
    let main = Tee::new(chunks(&[half, half, 10]), vec![tap], later());
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
    let main = Tee::new(inner, vec![tap], later());
    assert!(main.collect().await.is_err());
    let mut shadow = shadow;
    let first = shadow.frame().await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), Bytes::from_static(b"x"));
    assert!(shadow.frame().await.unwrap().is_err());
}

#[tokio::test]
async fn a_main_body_dropped_at_its_end_completes_the_shadow() {
    let (shadow, tap) = tap(SizeHint::with_exact(2));
    let mut main = Tee::new(body::full("hi"), vec![tap], later());
    let frame = main.frame().await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), Bytes::from_static(b"hi"));
    drop(main);
    assert_eq!(shadow.size_hint().exact(), Some(2));
    assert_eq!(
        shadow.collect().await.unwrap().to_bytes(),
        Bytes::from_static(b"hi")
    );
}

/// A body fed frame by frame, that ends when `tx` is dropped.
fn fed() -> (mpsc::Sender<Bytes>, ProxyBody) {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let data = rx.recv().await?;
        Some((Ok::<_, BoxError>(Frame::data(data)), rx))
    });
    (tx, http_body_util::StreamBody::new(stream).boxed_unsync())
}

#[tokio::test]
async fn the_rest_of_a_body_the_main_request_left_is_read_for_the_shadow() {
    let (tx, inner) = fed();
    let (shadow, tap) = tap(SizeHint::default());
    let lag = tap.lag();
    let mut main = Tee::new(inner, vec![tap], later());
    tx.send(Bytes::from_static(b"first ")).await.unwrap();
    let frame = main.frame().await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), Bytes::from_static(b"first "));
    // The main upstream answered: the main request reads no more.
    drop(main);
    tx.send(Bytes::from_static(b"second ")).await.unwrap();
    tx.send(Bytes::from_static(b"third")).await.unwrap();
    drop(tx);
    let shadow = shadow.collect().await.unwrap().to_bytes();
    assert_eq!(&shadow[..], b"first second third");
    assert!(!lag.fell_behind());
}

#[tokio::test]
async fn a_rest_past_the_buffer_cuts_the_shadow_off_as_fallen_behind() {
    let (shadow, tap) = tap(SizeHint::default());
    let lag = tap.lag();
    let mut main = Tee::new(chunks(&[1, SHADOW_BODY_BUFFER + 1]), vec![tap], later());
    main.frame().await.unwrap().unwrap();
    drop(main);
    let error = shadow.collect().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the mirrored request body was cut off: the shadow fell behind or the request failed"
    );
    assert!(lag.fell_behind());
}

#[tokio::test(start_paused = true)]
async fn the_rest_is_not_read_past_the_shadows_lifetime() {
    let (tx, inner) = fed();
    let (shadow, tap) = tap(SizeHint::default());
    let lag = tap.lag();
    let main = Tee::new(inner, vec![tap], Instant::now() + Duration::from_secs(2));
    drop(main);
    // The client never sends the rest: the shadow is cut off when its lifetime ends, and the
    // request body is let go.
    let error = shadow.collect().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the mirrored request body was cut off: the shadow fell behind or the request failed"
    );
    assert!(!lag.fell_behind());
    tokio::time::timeout(Duration::from_secs(1), tx.closed())
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_rest_is_let_go_once_the_shadow_stops_reading() {
    let (tx, inner) = fed();
    let (shadow, tap) = tap(SizeHint::default());
    let main = Tee::new(inner, vec![tap], later());
    drop(main);
    drop(shadow);
    // Well before the lifetime's end.
    tokio::time::timeout(Duration::from_secs(1), tx.closed())
        .await
        .unwrap();
}
