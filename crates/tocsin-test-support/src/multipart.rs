//! A strict `multipart/form-data` reader (RFC 7578) for the fake servers: the boundary
//! must be declared, every part must carry `Content-Disposition: form-data` with a
//! name, and the body must end with the closing delimiter. What a platform's upload
//! endpoint receives is checked field by field from what this returns.

use bytes::Bytes;

/// One part of a form.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// The `name` of its `Content-Disposition`.
    pub name: String,
    /// The `filename`, for a file part.
    pub filename: Option<String>,
    /// Its `Content-Type`, if it declared one.
    pub content_type: Option<String>,
    /// Its bytes.
    pub body: Bytes,
}

impl Part {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A parsed form, parts in order.
#[derive(Debug, Clone, Default)]
pub struct Form {
    /// Every part as sent.
    pub parts: Vec<Part>,
}

impl Form {
    /// The first part named `name`.
    pub fn part(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }

    /// Every part named `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&Part> {
        self.parts.iter().filter(|p| p.name == name).collect()
    }

    /// The text of the first part named `name`.
    pub fn text(&self, name: &str) -> Option<String> {
        self.part(name).map(Part::text)
    }
}

/// Parses a `multipart/form-data` body given its `Content-Type` header value.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Form, String> {
    let content_type = content_type.ok_or("no Content-Type: expected multipart/form-data")?;
    let mut params = content_type.split(';').map(str::trim);
    if !params
        .next()
        .is_some_and(|t| t.eq_ignore_ascii_case("multipart/form-data"))
    {
        return Err(format!(
            "Content-Type {content_type} is not multipart/form-data"
        ));
    }
    let boundary = params
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or("multipart/form-data without a boundary")?;
    let delimiter = format!("--{boundary}");
    let mut rest = body
        .strip_prefix(delimiter.as_bytes())
        .ok_or("the body does not start with the boundary")?;
    let mut form = Form::default();
    loop {
        if rest.starts_with(b"--") {
            return Ok(form);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("a boundary line not ended by CRLF")?;
        let end = find(rest, b"\r\n\r\n").ok_or("a part without a blank line after its headers")?;
        let head = std::str::from_utf8(rest.get(..end).unwrap_or_default())
            .map_err(|_| "part headers are not UTF-8")?;
        let after = rest.get(end + 4..).unwrap_or_default();
        let close = format!("\r\n{delimiter}");
        let stop = find(after, close.as_bytes())
            .ok_or("the body does not end with the closing boundary")?;
        let content = after.get(..stop).unwrap_or_default();
        rest = after.get(stop + close.len()..).unwrap_or_default();
        form.parts.push(part(head, content)?);
    }
}

fn part(head: &str, content: &[u8]) -> Result<Part, String> {
    let (mut name, mut filename, mut content_type, mut disposition) = (None, None, None, false);
    for line in head.split("\r\n") {
        let (key, value) = line
            .split_once(':')
            .ok_or(format!("malformed part header {line:?}"))?;
        let value = value.trim();
        if key.trim().eq_ignore_ascii_case("content-disposition") {
            let mut fields = value.split(';').map(str::trim);
            if fields.next() != Some("form-data") {
                return Err(format!("Content-Disposition {value:?} is not form-data"));
            }
            disposition = true;
            for field in fields {
                if let Some(v) = field.strip_prefix("name=") {
                    name = Some(v.trim_matches('"').to_string());
                } else if let Some(v) = field.strip_prefix("filename=") {
                    filename = Some(v.trim_matches('"').to_string());
                }
            }
        } else if key.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_string());
        }
    }
    if !disposition {
        return Err("a part without Content-Disposition".into());
    }
    Ok(Part {
        name: name.ok_or("a part without a name")?,
        filename,
        content_type,
        body: Bytes::copy_from_slice(content),
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_with_a_file_and_a_field_parses_and_a_missing_close_is_refused() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nA map\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ--\r\n";
        let form = parse(Some("multipart/form-data; boundary=XyZ"), body).unwrap();
        assert_eq!(form.text("description").as_deref(), Some("A map"));
        let file = form.part("file").unwrap();
        assert_eq!(file.filename.as_deref(), Some("a.png"));
        assert_eq!(file.content_type.as_deref(), Some("image/png"));
        assert_eq!(&file.body[..], b"\x89PNG");
        let cut = body.get(..body.len() - 9).unwrap();
        assert!(parse(Some("multipart/form-data; boundary=XyZ"), cut).is_err());
        assert!(parse(Some("application/json"), body).is_err());
    }
}
