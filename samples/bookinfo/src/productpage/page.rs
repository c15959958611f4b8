//! The HTML pages. Everything that comes from a user or an upstream is escaped; only the
//! product summary, which is ours, is written as HTML. The markup keeps the class names and
//! `<font color>` of Istio's sample, so checks written against it (counting
//! `glyphicon-star`, looking for `color="red"`) work here too.

use std::fmt::Write;

use serde_json::Value;

use super::Product;

const STYLE: &str = "body{font-family:sans-serif;margin:0}\
    .navbar{background:#222;color:#fff;padding:8px 16px;display:flex;\
    justify-content:space-between;align-items:center}\
    .navbar a{color:#9cf}.container{padding:0 16px}\
    .row{display:flex;gap:32px}.col{flex:1}\
    blockquote{border-left:4px solid #ddd;margin:8px 0;padding:4px 12px}\
    .text-primary{color:#337ab7}";

/// What the product page shows; `None` for an upstream that gave no answer.
#[derive(Debug)]
pub struct ProductView<'a> {
    /// The book.
    pub product: &'a Product,
    /// The signed-in user.
    pub user: Option<&'a str>,
    /// details' answer.
    pub details: Option<&'a Value>,
    /// reviews' answer.
    pub reviews: Option<&'a Value>,
}

// === impl ProductView ===

impl ProductView<'_> {
    /// The whole page.
    pub fn render(&self) -> String {
        let mut body = String::new();
        body.push_str(&self.navbar());
        let _ = write!(
            body,
            "<div class=\"container\">\n<h3 class=\"text-center text-primary\">{}</h3>\n\
             <p>Summary: {}</p>\n<div class=\"row\">\n<div class=\"col\">\n{}</div>\n\
             <div class=\"col\">\n{}</div>\n</div>\n</div>\n",
            escape_html(self.product.title),
            self.product.description_html,
            self.details_html(),
            self.reviews_html(),
        );
        document(&body)
    }

    fn navbar(&self) -> String {
        let account = match self.user {
            Some(user) => format!(
                "<span class=\"user\">{} ( <a href=\"/logout\">sign out</a> )</span>",
                escape_html(user)
            ),
            None => "<form method=\"post\" action=\"/login\">\
                 <input type=\"text\" name=\"username\" placeholder=\"User name\"> \
                 <input type=\"password\" name=\"passwd\" placeholder=\"Password\"> \
                 <button type=\"submit\" class=\"btn btn-primary\">Sign in</button></form>"
                .to_string(),
        };
        format!(
            "<nav class=\"navbar\"><a class=\"navbar-brand\" href=\"/\">BookInfo Sample</a>\
             {account}</nav>\n"
        )
    }

    fn details_html(&self) -> String {
        let Some(details) = self.details else {
            return "<h4 class=\"text-center text-primary\">Error fetching product details!</h4>\n\
                <p>Sorry, product details are currently unavailable for this book.</p>\n"
                .to_string();
        };
        let mut html =
            String::from("<h4 class=\"text-center text-primary\">Book Details</h4>\n<dl>\n");
        for (label, key) in [
            ("Type", "type"),
            ("Pages", "pages"),
            ("Publisher", "publisher"),
            ("Language", "language"),
            ("ISBN-10", "ISBN-10"),
            ("ISBN-13", "ISBN-13"),
        ] {
            let _ = writeln!(
                html,
                "<dt>{label}:</dt><dd>{}</dd>",
                escape_html(&scalar(&details[key]))
            );
        }
        html.push_str("</dl>\n");
        html
    }

    fn reviews_html(&self) -> String {
        let Some(reviews) = self.reviews else {
            return "<h4 class=\"text-center text-primary\">Error fetching product reviews!</h4>\n\
                <p>Sorry, product reviews are currently unavailable for this book.</p>\n"
                .to_string();
        };
        let mut html = String::from("<h4 class=\"text-center text-primary\">Book Reviews</h4>\n");
        for review in reviews["reviews"].as_array().into_iter().flatten() {
            let _ = write!(
                html,
                "<blockquote>\n<p>{}</p>\n<small>{}</small>\n{}</blockquote>\n",
                escape_html(&scalar(&review["text"])),
                escape_html(&scalar(&review["reviewer"])),
                rating_html(&review["rating"]),
            );
        }
        if let Some(pod) = reviews["podname"].as_str() {
            let _ = writeln!(
                html,
                "<dl><dt>Reviews served by:</dt><dd><u>{}</u></dd></dl>",
                escape_html(pod)
            );
        }
        html
    }
}

/// The index page, linking to the product page.
pub fn index() -> String {
    document(
        "<nav class=\"navbar\"><a class=\"navbar-brand\" href=\"/\">BookInfo Sample</a></nav>\n\
         <div class=\"container\">\n<h3>Hello! This is a simple bookstore application consisting \
         of three services as shown below</h3>\n<ul>\n<li>productpage: this page, and the \
         JSON API at <a href=\"/api/v1/products\">/api/v1/products</a></li>\n\
         <li>details: the book's details</li>\n<li>reviews: its reviews, with ratings in v2 and \
         v3</li>\n<li>ratings: each reviewer's stars</li>\n</ul>\n\
         <p><a href=\"/productpage\">Go to the product page</a></p>\n</div>\n",
    )
}

/// `text` with the five characters that matter in HTML text and attributes escaped.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn document(body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Simple Bookstore App</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\
         </body>\n</html>\n"
    )
}

/// Stars as Istio's sample draws them (v2 black, v3 red), the rating error, or nothing (v1).
fn rating_html(rating: &Value) -> String {
    if let Some(stars) = rating["stars"].as_u64() {
        let stars = stars.min(5);
        // The colour lands in an attribute: only a plain colour name or hex value is kept.
        let color = rating["color"]
            .as_str()
            .filter(|c| !c.is_empty() && c.chars().all(|c| c.is_ascii_alphanumeric() || c == '#'))
            .unwrap_or("black");
        let mut html = format!("<font color=\"{color}\">");
        for _ in 0..stars {
            html.push_str("<span class=\"glyphicon glyphicon-star\">&#9733;</span>");
        }
        for _ in stars..5 {
            html.push_str("<span class=\"glyphicon glyphicon-star-empty\">&#9734;</span>");
        }
        html.push_str("</font>\n");
        html
    } else if let Some(error) = rating["error"].as_str() {
        format!("<p><i>{}</i></p>\n", escape_html(error))
    } else {
        String::new()
    }
}

/// A JSON string without quotes, a number as written, anything else empty.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn escaping_covers_text_and_attributes() {
        assert_eq!(
            escape_html(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn stars_are_filled_then_empty_in_the_given_colour() {
        let html = rating_html(&json!({"stars": 4, "color": "red"}));
        assert_eq!(
            html,
            format!(
                "<font color=\"red\">{}{}</font>\n",
                "<span class=\"glyphicon glyphicon-star\">&#9733;</span>".repeat(4),
                "<span class=\"glyphicon glyphicon-star-empty\">&#9734;</span>"
            )
        );
    }

    #[test]
    fn an_odd_colour_falls_back_to_black() {
        let html = rating_html(&json!({"stars": 1, "color": "red\" onmouseover=\"x"}));
        assert!(html.starts_with("<font color=\"black\">"), "{html}");
    }

    #[test]
    fn a_rating_error_is_shown_escaped_and_no_rating_shows_nothing() {
        assert_eq!(
            rating_html(&json!({"error": "<b>down</b>"})),
            "<p><i>&lt;b&gt;down&lt;/b&gt;</i></p>\n"
        );
        assert_eq!(rating_html(&Value::Null), "");
    }
}
