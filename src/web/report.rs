//! `git keepsake report`: one self-contained HTML file (the dashboard's own JS and CSS inlined,
//! the data embedded as JSON), to attach to a pull request or keep as a CI artifact. It opens from
//! disk with no server and no network.

use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{APP_JS, STYLE_CSS};

/// The report's page. `data` is `{"title", "experiments": [ls --json rows], "details": {id:
/// experiment page data}, "compare": [ids]}`.
pub fn html(title: &str, data: &Value) -> String {
    // Inside <script type="application/json"> only `</script` or `<!--` could end the block: with
    // every `<` escaped (and `>`, `&` for good measure) no record can.
    let embedded = data
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    // A file has no server to send headers: the policy is a meta tag, allowing exactly the
    // inlined script and style by hash, and nothing to be fetched.
    let hash = |text: &str| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text));
    let csp = format!(
        "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; img-src data:; base-uri 'none'; form-action 'none'",
        hash(APP_JS),
        hash(STYLE_CSS)
    );
    let title = escape_html(title);
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{title}</title>\n<style>{STYLE_CSS}</style>\n</head>\n<body>\n\
<header><a href=\"#/\" class=\"brand\">git keepsake</a><nav id=\"nav\"></nav></header>\n\
<main id=\"app\"></main>\n\
<script type=\"application/json\" id=\"keepsake-data\">{embedded}</script>\n\
<script type=\"module\">{APP_JS}</script>\n</body>\n</html>\n"
    )
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The data a report embeds.
pub fn data(title: &str, rows: Value, details: serde_json::Map<String, Value>) -> Value {
    let compare: Vec<Value> = rows
        .as_array()
        .map(|a| a.iter().take(20).map(|r| r["id"].clone()).collect())
        .unwrap_or_default();
    json!({"title": title, "experiments": rows, "details": details, "compare": compare})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inlined_code_cannot_end_its_own_block() {
        assert!(!APP_JS.to_ascii_lowercase().contains("</script"));
        assert!(!STYLE_CSS.to_ascii_lowercase().contains("</style"));
    }

    #[test]
    fn a_record_cannot_end_the_data_block() {
        let v = json!({"x": "</script><script>alert(1)</script><!--"});
        let page = html("t", &v);
        let start = page.find("id=\"keepsake-data\">").unwrap();
        let rest = &page[start..];
        let end = rest.find("</script>").unwrap();
        assert!(!rest[..end].contains('<'));
        let body = &rest["id=\"keepsake-data\">".len()..end];
        assert_eq!(serde_json::from_str::<Value>(body).unwrap(), v);
    }
}
