use std::sync::{Arc, atomic::AtomicU64};

use http_body_util::BodyExt;
use tokio::sync::mpsc;

use super::*;

/// Records what a [`Watched`] body reports: data lengths, then how it ended.
struct Recorder(mpsc::UnboundedSender<String>);

impl Watch<BoxError> for Recorder {
    fn frame(&mut self, frame: &Frame<Bytes>) {
        let len = frame.data_ref().map_or(0, Bytes::len);
        let _ = self.0.send(format!("frame {len}"));
    }

    fn end(&mut self, end: End<'_, BoxError>) {
        let end = match end {
            End::Complete => "complete".to_owned(),
            End::Failed(error) => format!("failed: {error}"),
            End::Dropped => "dropped".to_owned(),
        };
        let _ = self.0.send(end);
    }
}

fn watched(
    inner: ProxyBody,
) -> (
    Watched<ProxyBody, Recorder>,
    mpsc::UnboundedReceiver<String>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Watched::with(inner, Recorder(tx)), rx)
}

fn seen(mut rx: mpsc::UnboundedReceiver<String>) -> Vec<String> {
    let mut seen = Vec::new();
    while let Ok(event) = rx.try_recv() {
        seen.push(event);
    }
    seen
}

fn frames(items: Vec<Result<Frame<Bytes>, BoxError>>) -> ProxyBody {
    StreamBody::new(futures_util::stream::iter(items)).boxed_unsync()
}

#[tokio::test]
async fn a_body_read_to_its_end_ends_complete_once() {
    let (body, rx) = watched(frames(vec![
        Ok(Frame::data(Bytes::from_static(b"abc"))),
        Ok(Frame::data(Bytes::from_static(b"de"))),
    ]));
    let bytes = body.collect().await.unwrap().to_bytes();
    assert_eq!(&bytes[..], b"abcde");
    assert_eq!(seen(rx), ["frame 3", "frame 2", "complete"]);
}

#[tokio::test]
async fn a_failed_body_ends_failed_and_not_again_when_dropped() {
    let (mut body, rx) = watched(frames(vec![
        Ok(Frame::data(Bytes::from_static(b"x"))),
        Err("client went away".into()),
    ]));
    assert!(body.frame().await.unwrap().is_ok());
    assert!(body.frame().await.unwrap().is_err());
    drop(body);
    assert_eq!(seen(rx), ["frame 1", "failed: client went away"]);
}

#[tokio::test]
async fn a_body_dropped_before_its_end_ends_dropped() {
    let (mut body, rx) = watched(frames(vec![
        Ok(Frame::data(Bytes::from_static(b"x"))),
        Ok(Frame::data(Bytes::from_static(b"y"))),
    ]));
    assert!(body.frame().await.unwrap().is_ok());
    drop(body);
    assert_eq!(seen(rx), ["frame 1", "dropped"]);
}

#[test]
fn an_empty_body_dropped_unread_ends_complete() {
    let (body, rx) = watched(empty());
    drop(body);
    assert_eq!(seen(rx), ["complete"]);
}

#[tokio::test]
async fn counted_adds_the_data_bytes() {
    let count = Arc::new(AtomicU64::new(5));
    let body = Counted::new(full("hello"), Arc::clone(&count));
    assert_eq!(body.collect().await.unwrap().to_bytes(), "hello");
    assert_eq!(count.load(Ordering::Relaxed), 10);
}
