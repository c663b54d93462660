//! What the scanner keeps of a response: the headers below (names lower case), the body's hash and length, and
//! the title and snippets that `exhunt_detect::scan::BodyAnchors` cuts from it with the scan pack's anchors. The
//! record itself is [`exhunt_model::Observation`]; bodies are never kept.

/// Response headers saved in observations.
pub const KEPT_HEADERS: &[&str] = &[
    "server",
    "x-owa-version",
    "x-feserver",
    "x-beserver",
    "x-calculatedbetarget",
    "x-diaginfo",
    "www-authenticate",
    "location",
    "content-type",
    "content-encoding",
    "content-length",
    "x-powered-by",
    "x-aspnet-version",
];
