//! HTTP requests as the scenarios send them: with curl, from this machine or from inside a
//! pod, so that every substrate sends byte-for-byte the same request.

use std::{net::SocketAddr, process::Output};

/// How long one request may take, end to end.
const MAX_TIME_SECONDS: &str = "15";
/// The most response headers a response may carry.
const MAX_HEADERS: usize = 64;

/// A request to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// An absolute URL; its authority is the `Host` header.
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// A form body (`application/x-www-form-urlencoded`), for POSTs.
    pub form: Option<String>,
}

/// A response received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Why a request failed before a response could be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("curl could not run: {0}")]
    Spawn(String),
    #[error("curl failed ({status}): {stderr}")]
    Curl { status: String, stderr: String },
    #[error("malformed response: {reason}: {head:?}")]
    Malformed { reason: String, head: String },
}

// === impl HttpRequest ===

impl HttpRequest {
    /// A GET of `url`.
    pub fn get(url: &str) -> Self {
        Self {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            form: None,
        }
    }

    /// A POST of a form to `url`.
    pub fn post_form(url: &str, form: &str) -> Self {
        Self {
            method: "POST".into(),
            form: Some(form.into()),
            ..Self::get(url)
        }
    }

    /// The request with one more header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// curl's arguments for the request; `connect_to` sends it to that address whatever the
    /// URL's host is (curl's `--connect-to`), which is how a gateway is reached by host name.
    pub fn curl_args(&self, connect_to: Option<SocketAddr>) -> Vec<String> {
        let mut args: Vec<String> = [
            "curl",
            "--silent",
            "--show-error",
            "--include",
            "--max-time",
            MAX_TIME_SECONDS,
            "--request",
        ]
        .map(String::from)
        .into();
        args.push(self.method.clone());
        if let Some(address) = connect_to {
            args.push("--connect-to".into());
            args.push(format!("::{}:{}", address.ip(), address.port()));
        }
        for (name, value) in &self.headers {
            args.push("--header".into());
            args.push(format!("{name}: {value}"));
        }
        if let Some(form) = &self.form {
            args.push("--data".into());
            args.push(form.clone());
        }
        args.push(self.url.clone());
        args
    }
}

// === impl HttpResponse ===

impl HttpResponse {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Runs curl on this machine.
pub fn curl_here(args: &[String]) -> Result<Output, HttpError> {
    let (program, rest) = args
        .split_first()
        .ok_or_else(|| HttpError::Spawn("no command".into()))?;
    std::process::Command::new(program)
        .args(rest)
        .output()
        .map_err(|e| HttpError::Spawn(e.to_string()))
}

/// Reads the response curl printed with `--include`.
pub fn parse_curl(output: &Output) -> Result<HttpResponse, HttpError> {
    if !output.status.success() {
        return Err(HttpError::Curl {
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    parse_response(&output.stdout)
}

/// Parses an HTTP/1.x response: status line, headers, and the rest as the body.
pub fn parse_response(bytes: &[u8]) -> Result<HttpResponse, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let malformed = |reason: String| HttpError::Malformed {
        reason,
        head: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
    };
    let head_len = match response.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Err(malformed("the head is incomplete".into())),
        Err(error) => return Err(malformed(error.to_string())),
    };
    let status = response.code.ok_or_else(|| malformed("no status".into()))?;
    let headers = response
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    Ok(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes[head_len..]).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_request_connects_to_the_gateway_and_keeps_its_host() {
        let request =
            HttpRequest::get("http://bookinfo/productpage").header("cookie", "user=jason");
        let gateway = "127.0.0.1:8080".parse().ok();
        assert_eq!(
            request.curl_args(gateway).join(" "),
            "curl --silent --show-error --include --max-time 15 --request GET \
             --connect-to ::127.0.0.1:8080 --header cookie: user=jason http://bookinfo/productpage"
        );
        let login = HttpRequest::post_form("http://bookinfo/login", "username=jason");
        assert_eq!(
            login.curl_args(None)[6..].join(" "),
            "--request POST --data username=jason http://bookinfo/login"
        );
    }

    #[test]
    fn responses_parse_into_status_headers_and_body() {
        let response = parse_response(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 19\r\nX-Envoy-Flags: UH\r\n\r\nno healthy upstream",
        )
        .unwrap();
        assert_eq!(response.status, 503);
        assert_eq!(response.header("x-envoy-flags"), Some("UH"));
        assert_eq!(response.header("content-length"), Some("19"));
        assert_eq!(response.body, "no healthy upstream");
    }

    #[test]
    fn a_truncated_head_is_an_error_that_shows_it() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-"),
            Err(HttpError::Malformed {
                reason: "the head is incomplete".into(),
                head: "HTTP/1.1 200 OK\r\nContent-".into()
            })
        );
    }
}
