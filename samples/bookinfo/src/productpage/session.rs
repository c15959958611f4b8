//! The sign-in session: a `session` cookie holding the user name, and the login form.
//!
//! The cookie is not signed, on purpose: like Istio's sample, sign-in takes any name with any
//! password, so a forged cookie grants nothing that signing in does not. The name is
//! percent-encoded so that any text survives the cookie syntax.

use std::fmt::Write;

use http::{HeaderMap, HeaderValue, header};

/// The cookie's name.
pub const COOKIE: &str = "session";

/// The signed-in user, from the request's `session` cookie.
pub fn user(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| percent_decode(value, false))
        .filter(|user| !user.is_empty())
}

/// The `Set-Cookie` value that signs `user` in.
pub fn login_cookie(user: &str) -> HeaderValue {
    // Percent-encoding leaves only ASCII letters, digits, `%` and `-._~`: always a valid value.
    HeaderValue::from_str(&format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Lax",
        percent_encode(user)
    ))
    .unwrap_or_else(|_| logout_cookie())
}

/// The `Set-Cookie` value that signs out.
pub fn logout_cookie() -> HeaderValue {
    HeaderValue::from_static("session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
}

/// The value of `name` in an `application/x-www-form-urlencoded` body.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(key, true)?, value))
        })
        .find(|(key, _)| key == name)
        .and_then(|(_, value)| percent_decode(value, true))
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Decodes `%XX` (and `+` as a space in forms); `None` for a bad escape or invalid UTF-8.
fn percent_decode(text: &str, plus_is_space: bool) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'%' => {
                let hex = rest.get(..2)?;
                let hex = std::str::from_utf8(hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &rest[2..];
            }
            b'+' if plus_is_space => bytes.push(b' '),
            _ => bytes.push(byte),
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::COOKIE, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn the_user_round_trips_through_the_cookie() {
        let user = "jason <script>alert(1)</script>; é";
        let cookie = login_cookie(user);
        assert_eq!(
            cookie.to_str().unwrap(),
            "session=jason%20%3Cscript%3Ealert%281%29%3C%2Fscript%3E%3B%20%C3%A9; Path=/; \
             HttpOnly; SameSite=Lax"
        );
        let value = cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&value).unwrap());
        assert_eq!(super::user(&headers).as_deref(), Some(user));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let headers = cookies(&["theme=dark", "a=b; session=jason; c=d"]);
        assert_eq!(user(&headers).as_deref(), Some("jason"));
        assert_eq!(user(&cookies(&["session="])), None);
        assert_eq!(user(&cookies(&["session=%zz"])), None);
        assert_eq!(user(&cookies(&["sessions=jason"])), None);
    }

    #[test]
    fn form_fields_are_decoded() {
        let body = b"passwd=p%26w&username=jason+smith%21&x";
        assert_eq!(
            form_field(body, "username").as_deref(),
            Some("jason smith!")
        );
        assert_eq!(form_field(body, "passwd").as_deref(), Some("p&w"));
        assert_eq!(form_field(body, "x").as_deref(), Some(""));
        assert_eq!(form_field(body, "missing"), None);
        assert_eq!(form_field(b"username=%C3", "username"), None);
    }
}
