//! Who may stream calls to `serve`: AudioHook's `X-API-KEY` and its HTTP
//! Message Signature (RFC 9421, HMAC-SHA256 with the client secret), as
//! the AudioHook protocol documentation describes them, checked before the
//! WebSocket upgrade.
//!
//! The signature covers at least `@request-target`, `@authority`, the
//! three `audiohook-*` ids and `x-api-key`; its `keyid` is the API key, its
//! `nonce` at least 22 characters and never seen before, and it was
//! `created` at most [`MAX_AGE_S`] ago (with [`CLOCK_SKEW_S`] of slack
//! either way). A key whose secret is empty may connect unsigned (the
//! platform sends no signature without a client secret).
//!
//! Structured fields (RFC 8941) are parsed and re-serialised with `sfv`;
//! the signature base is re-built from the parsed form, so a padded or
//! odd encoding cannot pass.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use base64::Engine as _;
use hyper::HeaderMap;
use sfv::{Dictionary, ListEntry, ListSerializer, Parser};

/// Seconds a signature stays valid after its `created` time.
pub const MAX_AGE_S: i64 = 10;
/// Seconds the platform's clock may differ from ours.
pub const CLOCK_SKEW_S: i64 = 3;
/// The shortest nonce taken.
pub const MIN_NONCE: usize = 22;
/// Components every signature must cover.
pub const REQUIRED: [&str; 6] = [
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
];

/// Nonces remembered (each for as long as its signature could be valid).
const NONCES: usize = 100_000;

/// Why a connection is refused (answered 401 before the upgrade).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `X-API-KEY` header.
    #[error("no X-API-KEY header")]
    MissingKey,
    /// The key is not one of ours.
    #[error("unknown API key")]
    UnknownKey,
    /// The key has a client secret but the request is not signed.
    #[error("the request is not signed (this API key has a client secret)")]
    Unsigned,
    /// The signature headers cannot be read, or break a rule.
    #[error("signature: {0}")]
    Invalid(String),
    /// Too old, or from the future.
    #[error("signature: expired or not yet valid")]
    Expired,
    /// A nonce seen before: a replay.
    #[error("signature: nonce used before")]
    Replayed,
    /// The HMAC does not match.
    #[error("signature does not verify")]
    Mismatch,
}

impl AuthError {
    /// The metrics' label: a missing or unknown key, or a bad signature.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::MissingKey | Self::UnknownKey => "unauthorized",
            _ => "bad_signature",
        }
    }
}

/// The API keys allowed and their client secrets (raw bytes; empty: no
/// secret), and the nonces seen.
#[derive(Debug, Default)]
pub struct Credentials {
    keys: HashMap<String, Vec<u8>>,
    nonces: Mutex<Nonces>,
}

/// Verified nonces, oldest first, and the same as a set.
#[derive(Debug, Default)]
struct Nonces {
    order: VecDeque<(i64, String)>,
    seen: std::collections::HashSet<String>,
}

impl Credentials {
    /// Keys from `KEY` or `KEY:SECRET` lines (the secret base64, as the
    /// platform shows it). Blank lines and `#` comments are skipped.
    ///
    /// # Errors
    /// A secret that is not base64, or an empty key, with its line number.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, secret) = line.split_once(':').unwrap_or((line, ""));
            let (key, secret) = (key.trim(), secret.trim());
            if key.is_empty() {
                return Err(format!("line {}: no API key before ':'", i + 1));
            }
            let secret = base64::engine::general_purpose::STANDARD
                .decode(secret)
                .map_err(|e| format!("line {}: the client secret is not base64: {e}", i + 1))?;
            keys.insert(key.to_string(), secret);
        }
        Ok(Self {
            keys,
            ..Self::default()
        })
    }

    /// Whether any key is configured (none: every connection is refused).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks a request's key and signature. `target` is its path and
    /// query as sent; `now_s` Unix seconds.
    ///
    /// # Errors
    /// Why the request may not connect.
    pub fn verify(&self, headers: &HeaderMap, target: &str, now_s: i64) -> Result<(), AuthError> {
        let api_key = field(headers, "x-api-key").ok_or(AuthError::MissingKey)?;
        let secret = self.keys.get(&api_key).ok_or(AuthError::UnknownKey)?;
        let (input, signature) = (
            headers.get_all("signature-input").iter().count(),
            headers.get_all("signature").iter().count(),
        );
        if input == 0 && signature == 0 {
            return if secret.is_empty() {
                Ok(())
            } else {
                Err(AuthError::Unsigned)
            };
        }
        let signed = Signed::parse(headers)?;
        if signed.keyid.as_deref() != Some(api_key.as_str()) {
            return Err(AuthError::Invalid("keyid is not the X-API-KEY".into()));
        }
        if signed.alg.as_deref().is_some_and(|a| a != "hmac-sha256") {
            return Err(AuthError::Invalid("alg is not hmac-sha256".into()));
        }
        let nonce = signed
            .nonce
            .as_deref()
            .filter(|n| n.len() >= MIN_NONCE)
            .ok_or_else(|| {
                AuthError::Invalid(format!("no nonce of at least {MIN_NONCE} characters"))
            })?;
        let created = signed
            .created
            .ok_or_else(|| AuthError::Invalid("no created time".into()))?;
        if created > now_s + CLOCK_SKEW_S
            || now_s > created + MAX_AGE_S + CLOCK_SKEW_S
            || signed.expires.is_some_and(|e| e + CLOCK_SKEW_S < now_s)
        {
            return Err(AuthError::Expired);
        }
        for required in REQUIRED {
            if !signed.components.iter().any(|c| c == required) {
                return Err(AuthError::Invalid(format!("{required} is not covered")));
            }
        }
        let base = signed.base(headers, target)?;
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        ring::hmac::verify(&key, base.as_bytes(), &signed.signature)
            .map_err(|_| AuthError::Mismatch)?;
        // Only a verified signature's nonce is remembered: a forger cannot
        // fill the memory.
        self.remember(nonce, created, now_s)
    }

    fn remember(&self, nonce: &str, created: i64, now_s: i64) -> Result<(), AuthError> {
        let mut guard = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        let Nonces { order, seen } = &mut *guard;
        while let Some((t, n)) = order.front() {
            if *t + MAX_AGE_S + 2 * CLOCK_SKEW_S < now_s || order.len() >= NONCES {
                seen.remove(n);
                order.pop_front();
            } else {
                break;
            }
        }
        if !seen.insert(nonce.to_string()) {
            return Err(AuthError::Replayed);
        }
        order.push_back((created, nonce.to_string()));
        Ok(())
    }
}

/// A header's value as a signature covers it: trimmed, several joined
/// with ", ".
fn field(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().map(str::trim))
        .collect::<Result<_, _>>()
        .ok()?;
    (!values.is_empty()).then(|| values.join(", "))
}

/// The first signature of a request, parsed.
#[derive(Debug)]
struct Signed {
    components: Vec<String>,
    /// `@signature-params`: the inner list as sent, re-serialised.
    params_line: String,
    alg: Option<String>,
    keyid: Option<String>,
    nonce: Option<String>,
    created: Option<i64>,
    expires: Option<i64>,
    signature: Vec<u8>,
}

impl Signed {
    fn parse(headers: &HeaderMap) -> Result<Self, AuthError> {
        let bad = |why: &str| AuthError::Invalid(why.to_string());
        let dict = |name: &str| -> Result<Dictionary, AuthError> {
            let text = field(headers, name).ok_or_else(|| bad(&format!("no {name} header")))?;
            Parser::new(&text)
                .parse()
                .map_err(|e| bad(&format!("{name}: {e}")))
        };
        let inputs = dict("signature-input")?;
        let signatures = dict("signature")?;
        let (label, entry) = inputs
            .iter()
            .next()
            .ok_or_else(|| bad("signature-input is empty"))?;
        let ListEntry::InnerList(list) = entry else {
            return Err(bad("signature-input's member is not an inner list"));
        };
        let signature = match signatures.get(label) {
            Some(ListEntry::Item(item)) => item
                .bare_item
                .as_byte_sequence()
                .map(<[u8]>::to_vec)
                .ok_or_else(|| bad("the signature is not a byte sequence"))?,
            _ => return Err(bad("no signature with signature-input's label")),
        };
        let mut components = Vec::with_capacity(list.items.len());
        for item in &list.items {
            let name = item
                .bare_item
                .as_string()
                .ok_or_else(|| bad("a covered component is not a string"))?;
            if !item.params.is_empty() {
                return Err(bad("component parameters are not supported"));
            }
            let name = name.as_str().to_string();
            if components.contains(&name) {
                return Err(bad("a component is covered twice"));
            }
            components.push(name);
        }
        let mut signed = Self {
            components,
            params_line: String::new(),
            alg: None,
            keyid: None,
            nonce: None,
            created: None,
            expires: None,
            signature,
        };
        for (key, value) in &list.params {
            let text = || value.as_string().map(|s| s.as_str().to_string());
            let int = || value.as_integer().map(i64::from).filter(|&v| v >= 0);
            let ok = match key.as_str() {
                "alg" => text().map(|v| signed.alg = Some(v)),
                "keyid" => text().map(|v| signed.keyid = Some(v)),
                "nonce" => text().map(|v| signed.nonce = Some(v)),
                "created" => int().map(|v| signed.created = Some(v)),
                "expires" => int().map(|v| signed.expires = Some(v)),
                other => return Err(bad(&format!("unknown parameter {other}"))),
            };
            ok.ok_or_else(|| bad(&format!("parameter {} has the wrong type", key.as_str())))?;
        }
        let mut ser = ListSerializer::new();
        ser.members([&ListEntry::InnerList(list.clone())]);
        signed.params_line = ser
            .finish()
            .ok_or_else(|| bad("signature-input cannot be serialised"))?;
        Ok(signed)
    }

    /// The signature base (RFC 9421 section 2.5) of this request.
    fn base(&self, headers: &HeaderMap, target: &str) -> Result<String, AuthError> {
        let mut lines = Vec::with_capacity(self.components.len() + 1);
        for name in &self.components {
            let value = match name.as_str() {
                "@request-target" => target.to_string(),
                "@path" => target.split('?').next().unwrap_or("/").to_string(),
                "@query" => format!("?{}", target.split_once('?').map_or("", |(_, q)| q)),
                "@method" => "GET".to_string(),
                "@authority" => field(headers, "host")
                    .map(|h| h.to_ascii_lowercase())
                    .ok_or_else(|| AuthError::Invalid("no Host header".into()))?,
                "@signature-params" => {
                    return Err(AuthError::Invalid("@signature-params is covered".into()));
                }
                derived if derived.starts_with('@') => {
                    return Err(AuthError::Invalid(format!("{derived} is not supported")));
                }
                header => field(headers, header)
                    .ok_or_else(|| AuthError::Invalid(format!("no {header} header")))?,
            };
            lines.push(format!("\"{name}\": {value}"));
        }
        lines.push(format!("\"@signature-params\": {}", self.params_line));
        Ok(lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    const KEY: &str = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";
    const SECRET: &str = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=";

    /// A request signed by hand, the way the protocol documentation lays
    /// out the signature base, with ring computing the HMAC.
    fn signed(now: i64, nonce: &str, secret_b64: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let mut set = |k: &'static str, v: &str| {
            h.insert(k, HeaderValue::from_str(v).unwrap());
        };
        set("host", "audiohook.example.com");
        set(
            "audiohook-organization-id",
            "d7934305-0972-4844-938e-9060eef73d05",
        );
        set(
            "audiohook-correlation-id",
            "e160e428-53e2-487c-977d-96989bf5c99d",
        );
        set(
            "audiohook-session-id",
            "30b0e395-84d3-4570-ac13-9a62d8f514c0",
        );
        set("x-api-key", KEY);
        let params = format!(
            "(\"@request-target\" \"@authority\" \"audiohook-organization-id\" \
             \"audiohook-session-id\" \"audiohook-correlation-id\" \"x-api-key\")\
             ;keyid=\"{KEY}\";nonce=\"{nonce}\";alg=\"hmac-sha256\";created={now};expires={}",
            now + 300
        );
        let base = format!(
            "\"@request-target\": /api/v1/voicebiometrics/ws\n\
             \"@authority\": audiohook.example.com\n\
             \"audiohook-organization-id\": d7934305-0972-4844-938e-9060eef73d05\n\
             \"audiohook-session-id\": 30b0e395-84d3-4570-ac13-9a62d8f514c0\n\
             \"audiohook-correlation-id\": e160e428-53e2-487c-977d-96989bf5c99d\n\
             \"x-api-key\": {KEY}\n\
             \"@signature-params\": {params}"
        );
        let secret = base64::engine::general_purpose::STANDARD
            .decode(secret_b64)
            .unwrap();
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret),
            base.as_bytes(),
        );
        let sig = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
        set("signature-input", &format!("sig1={params}"));
        set("signature", &format!("sig1=:{sig}:"));
        h
    }

    fn creds() -> Credentials {
        Credentials::parse(&format!("# a site\n{KEY}:{SECRET}\nopen-key\n")).unwrap()
    }

    const TARGET: &str = "/api/v1/voicebiometrics/ws";
    const NOW: i64 = 1_641_013_200;

    #[test]
    fn a_signed_request_verifies_once() {
        let c = creds();
        let h = signed(NOW, "VGhpc0lzQVVuaXF1ZU5vbmNl", SECRET);
        assert_eq!(c.verify(&h, TARGET, NOW + 2), Ok(()));
        // The same request again is a replay.
        assert_eq!(c.verify(&h, TARGET, NOW + 3), Err(AuthError::Replayed));
    }

    #[test]
    fn every_broken_rule_is_refused() {
        let c = creds();
        let nonce = "VGhpc0lzQVVuaXF1ZU5vbmNl";
        // Another secret.
        let h = signed(NOW, nonce, "c29tZSBvdGhlciBzZWNyZXQ=");
        assert_eq!(c.verify(&h, TARGET, NOW), Err(AuthError::Mismatch));
        // Another path than the one signed.
        let h = signed(NOW, nonce, SECRET);
        assert_eq!(c.verify(&h, "/other", NOW), Err(AuthError::Mismatch));
        // Another host.
        let mut h = signed(NOW, nonce, SECRET);
        h.insert("host", HeaderValue::from_static("evil.example.com"));
        assert_eq!(c.verify(&h, TARGET, NOW), Err(AuthError::Mismatch));
        // Too old, and from the future.
        let h = signed(NOW, nonce, SECRET);
        assert_eq!(c.verify(&h, TARGET, NOW + 14), Err(AuthError::Expired));
        assert_eq!(c.verify(&h, TARGET, NOW - 4), Err(AuthError::Expired));
        // A short nonce.
        let h = signed(NOW, "short", SECRET);
        assert!(matches!(
            c.verify(&h, TARGET, NOW),
            Err(AuthError::Invalid(_))
        ));
        // Unsigned, with a secret configured.
        let mut h = signed(NOW, nonce, SECRET);
        h.remove("signature");
        h.remove("signature-input");
        assert_eq!(c.verify(&h, TARGET, NOW), Err(AuthError::Unsigned));
        // Unknown and missing keys.
        h.insert("x-api-key", HeaderValue::from_static("nope"));
        assert_eq!(c.verify(&h, TARGET, NOW), Err(AuthError::UnknownKey));
        h.remove("x-api-key");
        assert_eq!(c.verify(&h, TARGET, NOW), Err(AuthError::MissingKey));
        // A key without a secret connects unsigned.
        h.insert("x-api-key", HeaderValue::from_static("open-key"));
        assert_eq!(c.verify(&h, TARGET, NOW), Ok(()));
        // Garbage in the signature header.
        let mut h = signed(NOW, nonce, SECRET);
        h.insert("signature", HeaderValue::from_static("sig1=::::"));
        assert!(matches!(
            c.verify(&h, TARGET, NOW),
            Err(AuthError::Invalid(_))
        ));
    }

    #[test]
    fn a_signature_must_cover_every_required_component() {
        let c = creds();
        let mut h = signed(NOW, "VGhpc0lzQVVuaXF1ZU5vbmNl", SECRET);
        let input = h["signature-input"]
            .to_str()
            .unwrap()
            .replace(" \"x-api-key\"", "");
        h.insert("signature-input", HeaderValue::from_str(&input).unwrap());
        assert_eq!(
            c.verify(&h, TARGET, NOW),
            Err(AuthError::Invalid("x-api-key is not covered".into()))
        );
    }

    #[test]
    fn secrets_must_be_base64() {
        assert!(Credentials::parse("k:not base64!").is_err());
        assert!(Credentials::parse(":c2VjcmV0").is_err());
        assert!(Credentials::parse("").unwrap().is_empty());
    }
}
