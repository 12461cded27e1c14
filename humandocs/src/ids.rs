//! Humandocs document ids: `humandocs/doc-{uuid}` (a random version-4 UUID, HS-DOC-2's `{app}/…`).

/// Prefix of every Humandocs document id.
pub const DOC_PREFIX: &str = "humandocs/doc-";

/// A new random document id.
pub fn new_doc_id() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h = hex::encode(b);
    Ok(format!(
        "{DOC_PREFIX}{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// Turns what a user typed (`humandocs/doc-{uuid}`, `doc-{uuid}` or the bare uuid) into a full id,
/// or `None` when it is none of those.
pub fn parse_doc_id(input: &str) -> Option<String> {
    let uuid = input
        .strip_prefix(DOC_PREFIX)
        .or_else(|| input.strip_prefix("doc-"))
        .unwrap_or(input);
    is_uuid(uuid).then(|| format!("{DOC_PREFIX}{}", uuid.to_ascii_lowercase()))
}

/// The uuid part of a full id (for short display).
pub fn short(id: &str) -> &str {
    id.strip_prefix(DOC_PREFIX).unwrap_or(id)
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_and_parse_back() {
        let id = new_doc_id().expect("random");
        assert!(
            humansync::DocId::new(&id).is_ok(),
            "{id} is a valid DocId (HS-DOC-1)"
        );
        assert_eq!(parse_doc_id(&id).as_deref(), Some(id.as_str()));
        assert_eq!(parse_doc_id(short(&id)).as_deref(), Some(id.as_str()));
        assert_eq!(
            parse_doc_id(&format!("doc-{}", short(&id))).as_deref(),
            Some(id.as_str())
        );
        assert_ne!(new_doc_id().expect("random"), id);
        for bad in [
            "",
            "doc-",
            "humandocs/doc-xyz",
            "../etc",
            "12345678-1234-1234-1234-12345678901",
        ] {
            assert_eq!(parse_doc_id(bad), None, "{bad:?}");
        }
    }
}
