//! Network addresses and connections that sources, sinks and the metrics
//! endpoint share: checking `HOST:PORT` settings, and opening a Redis
//! connection with timeouts that suit blocking stream reads.

use std::time::Duration;

use redis::aio::MultiplexedConnection;

/// `HOST:PORT` with a numeric port (the `address` of tcp/udp sources and
/// the tcp sink).
pub fn check_address(address: &str) -> Result<(), String> {
    match address.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(format!(
            "`address` must be HOST:PORT, e.g. \"127.0.0.1:9000\", got {address:?}"
        )),
    }
}

/// The socket address `metrics_address` means: `HOST:PORT`, or a bare
/// `PORT` / `:PORT` for 127.0.0.1 (metrics stay local unless asked).
pub fn parse_address(address: &str) -> Result<String, String> {
    let address = address.trim();
    let port_only = address.strip_prefix(':').unwrap_or(address);
    if port_only.parse::<u16>().is_ok() {
        return Ok(format!("127.0.0.1:{port_only}"));
    }
    match address.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(address.to_string())
        }
        _ => Err(format!(
            "`metrics_address` must be HOST:PORT (e.g. \"127.0.0.1:9598\") or a port, got {address:?}"
        )),
    }
}

/// Opens a Redis connection: 5 s to connect, `response_timeout` for each
/// reply (a blocking `XREADGROUP` needs more than its block time).
pub async fn redis_connect(
    client: &redis::Client,
    response_timeout: Duration,
) -> redis::RedisResult<MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(response_timeout));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_addresses_default_to_localhost() {
        assert_eq!(parse_address("9598").unwrap(), "127.0.0.1:9598");
        assert_eq!(parse_address(":9598").unwrap(), "127.0.0.1:9598");
        assert_eq!(parse_address("0.0.0.0:1").unwrap(), "0.0.0.0:1");
        assert_eq!(parse_address("[::1]:9598").unwrap(), "[::1]:9598");
        assert!(parse_address("localhost").is_err());
    }

    #[test]
    fn addresses_need_a_numeric_port() {
        assert!(check_address("127.0.0.1:9000").is_ok());
        assert!(check_address("9000").is_err());
        assert!(check_address("host:port").is_err());
    }
}
