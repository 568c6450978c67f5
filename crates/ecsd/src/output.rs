//! What commands print on standard output. `println!` panics when standard output is gone (a
//! closed pipe, a full disk); here a closed pipe ends the output quietly (the reader, say
//! `ecsd events | head -1`, has what it wanted) and any other failure becomes the command's
//! error.

use std::io::{ErrorKind, Write};

/// Standard output failed for a reason other than a closed pipe.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to standard output")]
pub struct OutputError(#[source] std::io::Error);

/// Writes one line to standard output.
pub fn line(args: std::fmt::Arguments) -> Result<(), OutputError> {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(OutputError(e)),
    }
}

/// `println!` that returns [`line`]'s result instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
pub(crate) use say;
