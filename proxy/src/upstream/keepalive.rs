//! TCP keep-alive on upstream sockets (a cluster's `upstream_connection_options.tcp_keepalive`),
//! for the HTTP pools' connections and the TCP proxy's alike. A value the system refuses is an
//! error (Linux: `EINVAL` past 127 probes or 32767 seconds), which fails the connection.

use std::io;

use socket2::SockRef;
use tokio::net::TcpStream;

use crate::config::TcpKeepalive;

/// Turns `SO_KEEPALIVE` on for `stream` and sets what `keepalive` gives of `TCP_KEEPIDLE`,
/// `TCP_KEEPINTVL` and `TCP_KEEPCNT`; the rest keep the system's values, as in Envoy.
pub fn set_keepalive(stream: &TcpStream, keepalive: &TcpKeepalive) -> io::Result<()> {
    let mut params = socket2::TcpKeepalive::new();
    if let Some(time) = keepalive.time {
        params = params.with_time(time);
    }
    if let Some(interval) = keepalive.interval {
        params = params.with_interval(interval);
    }
    if let Some(probes) = keepalive.probes {
        params = params.with_retries(probes);
    }
    SockRef::from(stream).set_tcp_keepalive(&params)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::net::TcpListener;

    use super::*;

    async fn connected() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (client, server)
    }

    #[tokio::test]
    async fn every_value_given_is_set_on_the_socket() {
        let (client, _server) = connected().await;
        let socket = SockRef::from(&client);
        assert!(!socket.keepalive().unwrap());
        set_keepalive(
            &client,
            &TcpKeepalive {
                probes: Some(4),
                time: Some(Duration::from_secs(75)),
                interval: Some(Duration::from_secs(9)),
            },
        )
        .unwrap();
        assert!(socket.keepalive().unwrap());
        assert_eq!(socket.keepalive_retries().unwrap(), 4);
        assert_eq!(socket.keepalive_time().unwrap(), Duration::from_secs(75));
        assert_eq!(socket.keepalive_interval().unwrap(), Duration::from_secs(9));
    }

    #[tokio::test]
    async fn unset_values_keep_the_system_s() {
        let (client, _server) = connected().await;
        let socket = SockRef::from(&client);
        let (time, interval, probes) = (
            socket.keepalive_time().unwrap(),
            socket.keepalive_interval().unwrap(),
            socket.keepalive_retries().unwrap(),
        );
        set_keepalive(
            &client,
            &TcpKeepalive {
                time: Some(time + Duration::from_secs(1)),
                ..TcpKeepalive::default()
            },
        )
        .unwrap();
        assert!(socket.keepalive().unwrap());
        assert_eq!(
            (
                socket.keepalive_time().unwrap(),
                socket.keepalive_interval().unwrap(),
                socket.keepalive_retries().unwrap(),
            ),
            (time + Duration::from_secs(1), interval, probes)
        );
    }

    #[tokio::test]
    async fn a_value_the_system_refuses_is_an_error() {
        let (client, _server) = connected().await;
        let error = set_keepalive(
            &client,
            &TcpKeepalive {
                probes: Some(128),
                ..TcpKeepalive::default()
            },
        )
        .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }
}
