//! The shell's error type: bad input (exit 2, HTTP 4xx) versus runtime failure (exit 1).

use std::fmt;

/// What went wrong, classified by who must act: the user (bad input) or the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    /// Bad input: one clear line saying what and where. Exit code 2.
    BadInput(String),
    /// Runtime or dependency failure (database down, process failed). Exit code 1.
    Runtime(String),
}

impl AppError {
    pub fn bad(message: impl Into<String>) -> AppError {
        AppError::BadInput(message.into())
    }

    pub fn runtime(message: impl Into<String>) -> AppError {
        AppError::Runtime(message.into())
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::BadInput(_) => 2,
            AppError::Runtime(_) => 1,
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::BadInput(m) | AppError::Runtime(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for AppError {}

pub type AppResult<T> = Result<T, AppError>;
