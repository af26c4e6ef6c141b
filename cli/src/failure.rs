//! Why a command failed, and the exit code that says so.
//!
//! The codes are stable, for scripts: 0 ok, 1 the router (or the callee) answered with an
//! error, 2 usage or invalid input, 3 cannot connect or log in (or the connection was lost),
//! 4 timeout, 130 interrupted (Ctrl-C).

use izaber_wamp::Error;

pub const ROUTER: u8 = 1;
pub const USAGE: u8 = 2;
pub const CONNECT: u8 = 3;
pub const TIMEOUT: u8 = 4;
pub const INTERRUPTED: u8 = 130;

#[derive(Debug)]
pub enum Failure {
    /// A bad argument or input, found before or without talking to the router.
    Usage(String),
    /// The library's error, classified by [`Failure::code`].
    Wamp(Error),
    /// Ctrl-C.
    Interrupted,
    /// Some requests of a load (`--repeat`) failed: how many and why, in a line (the
    /// summary on stdout has the details).
    Load(String),
    /// Reported already (the shell reports each failing line as it goes): exit with this.
    Reported(u8),
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::Usage(message.into())
    }

    pub fn code(&self) -> u8 {
        match self {
            Failure::Usage(_) => USAGE,
            Failure::Interrupted => INTERRUPTED,
            Failure::Reported(code) => *code,
            Failure::Load(_) => ROUTER,
            Failure::Wamp(error) => match error {
                Error::Wamp(_) => ROUTER,
                Error::Timeout { .. } => TIMEOUT,
                Error::Config(_)
                | Error::InvalidArgument(_)
                | Error::InvalidUrl { .. }
                | Error::Value(_)
                | Error::PayloadTooLarge { .. } => USAGE,
                _ => CONNECT,
            },
        }
    }

    /// Prints the failure on stderr: for an error from the router, its URI, then its
    /// arguments and keyword arguments as JSON, one per line, so that a script can read them.
    pub fn report(&self) {
        match self {
            Failure::Usage(message) | Failure::Load(message) => {
                eprintln!("izaber-wamp: {message}")
            }
            Failure::Interrupted | Failure::Reported(_) => {}
            Failure::Wamp(Error::Wamp(error)) => {
                eprintln!(
                    "izaber-wamp: the router answered with an error: {}",
                    error.uri
                );
                eprintln!("args: {}", crate::output::compact(&error.args));
                eprintln!("kwargs: {}", crate::output::compact(&error.kwargs));
            }
            Failure::Wamp(error) => eprintln!("izaber-wamp: {error:#}"),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::Wamp(error)
    }
}
