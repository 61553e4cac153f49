//! The binary's one error type and its exit codes: 1 for invalid input, 2 for usage or I/O.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asks for something that cannot be done as asked.
    #[error("{0}")]
    Usage(String),

    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },

    /// The input was checked and found invalid; the findings were already printed.
    #[error("{0}")]
    Invalid(String),

    #[error(transparent)]
    Catalog(#[from] catalog::Error),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Read { .. } => 2,
            Error::Catalog(catalog::Error::Unknown { .. } | catalog::Error::InvalidPattern { .. }) => 2,
            Error::Invalid(_) | Error::Catalog(_) => 1,
        }
    }
}
