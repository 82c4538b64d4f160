//! Command-line pieces shared by the programs.

use std::time::Duration;

/// The port both programs use unless told otherwise: unusual, as the handout asks, and
/// below Linux's ephemeral range (32768+), so no outgoing connection can be squatting on it.
pub const DEFAULT_PORT: u16 = 28461;

/// Parses a number of seconds such as `5` or `0.5` (a clap value parser).
///
/// # Errors
/// A message for clap to show when the text is not a non-negative number.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("'{text}' is not a valid number of seconds"))
}

/// Parses a number of milliseconds such as `50` (a clap value parser).
///
/// # Errors
/// A message for clap to show when the text is not a whole number.
pub fn parse_millis(text: &str) -> Result<Duration, String> {
    text.parse()
        .map(Duration::from_millis)
        .map_err(|_| format!("'{text}' is not a whole number of milliseconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_may_be_fractional() {
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_seconds("3"), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn negative_or_non_numeric_seconds_are_refused() {
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
    }

    #[test]
    fn millis_are_whole_numbers() {
        assert_eq!(parse_millis("50"), Ok(Duration::from_millis(50)));
        assert!(parse_millis("0.5").is_err());
    }
}
