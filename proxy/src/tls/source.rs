//! Envoy `DataSource`s of TLS material, read once at config time, and the PEM they hold.
//!
//! A file that cannot be read or holds no usable PEM refuses the resource with the file's name
//! and the field's path, so the last good configuration keeps serving.

use envoy_types::pb::envoy::config::core::v3::{DataSource, data_source::Specifier};
use mesh_common::path::FieldPath;
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer,
    pem::{self, PemObject},
};

use crate::config_error::FieldError;

/// The largest file read: PEM bundles are kilobytes, and a control plane naming `/dev/zero`
/// must not hang or exhaust the proxy.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// Bytes read from a `DataSource`, and where they came from (for errors).
#[derive(Clone)]
pub struct Loaded {
    /// The content.
    pub bytes: Vec<u8>,
    /// The field that held them: `…filename`, `…inline_bytes`, `…inline_string` or
    /// `…environment_variable`.
    pub path: FieldPath,
    /// How errors name the source: `file "/etc/ca.pem"`, `inline_string`….
    pub origin: String,
}

/// Reads the `DataSource` at `path`; `None` when it is unset or has no specifier.
/// `environment_variable` is read from the proxy's environment, as Envoy does.
pub fn load(source: Option<&DataSource>, path: &FieldPath) -> Result<Option<Loaded>, FieldError> {
    let Some(source) = source else {
        return Ok(None);
    };
    if source.watched_directory.is_some() {
        return Err(FieldError::unsupported(path.field("watched_directory")));
    }
    let loaded = match &source.specifier {
        None => return Ok(None),
        Some(Specifier::Filename(name)) => {
            let path = path.field("filename");
            let bytes = read_file(name)
                .map_err(|e| FieldError::new(path.clone(), format!("cannot read {name:?}: {e}")))?;
            Loaded {
                bytes,
                path,
                origin: format!("file {name:?}"),
            }
        }
        Some(Specifier::InlineBytes(bytes)) => Loaded {
            bytes: bytes.clone(),
            path: path.field("inline_bytes"),
            origin: "inline_bytes".to_owned(),
        },
        Some(Specifier::InlineString(text)) => Loaded {
            bytes: text.clone().into_bytes(),
            path: path.field("inline_string"),
            origin: "inline_string".to_owned(),
        },
        Some(Specifier::EnvironmentVariable(name)) => {
            let path = path.field("environment_variable");
            let value = std::env::var(name).map_err(|e| {
                FieldError::new(path.clone(), format!("environment variable {name:?}: {e}"))
            })?;
            Loaded {
                bytes: value.into_bytes(),
                path,
                origin: format!("environment variable {name:?}"),
            }
        }
    };
    Ok(Some(loaded))
}

/// A regular file of at most [`MAX_FILE_BYTES`].
fn read_file(name: &str) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, Read};
    let file = std::fs::File::open(name)?;
    if !file.metadata()?.is_file() {
        return Err(Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::other(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    Ok(bytes)
}

/// Every PEM `CERTIFICATE` of `loaded`; at least one.
pub fn certificates(loaded: &Loaded) -> Result<Vec<CertificateDer<'static>>, FieldError> {
    let certs = CertificateDer::pem_slice_iter(&loaded.bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| loaded.invalid(pem_error(&e)))?;
    if certs.is_empty() {
        return Err(loaded.invalid("no PEM certificate"));
    }
    Ok(certs)
}

/// The PEM private key of `loaded` (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub fn private_key(loaded: &Loaded) -> Result<PrivateKeyDer<'static>, FieldError> {
    PrivateKeyDer::from_pem_slice(&loaded.bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => loaded.invalid("no PEM private key"),
        e => loaded.invalid(pem_error(&e)),
    })
}

/// A PEM error in words (the library's own shows markers as byte lists).
fn pem_error(error: &pem::Error) -> String {
    match error {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "invalid PEM: section end \"-----END {}-----\" missing",
            String::from_utf8_lossy(end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "invalid PEM: bad section start {:?}",
            String::from_utf8_lossy(line)
        ),
        e => format!("invalid PEM: {e}"),
    }
}

// === impl Loaded ===

impl Loaded {
    fn invalid(&self, reason: impl std::fmt::Display) -> FieldError {
        FieldError::new(self.path.clone(), format!("{}: {reason}", self.origin))
    }
}

// Never prints the content: it may be a private key.
impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("origin", &self.origin)
            .field("len", &self.bytes.len())
            .finish()
    }
}
