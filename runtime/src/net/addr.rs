//! Socket addresses without blocking the loop: [`ToSocketAddrs`] and [`lookup_host`].
//!
//! std's `ToSocketAddrs` calls `getaddrinfo`, which blocks (it may ask a DNS server). Here a
//! literal address (`"127.0.0.1:8080"`, a `SocketAddr`, `(IpAddr, u16)`) is parsed on the
//! spot, and only a host name is resolved, on the default executor, the way asyncio runs
//! `getaddrinfo` in its executor. The trait is sealed: the set of address forms is ours.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// What an address form turns into before any socket is made.
#[doc(hidden)]
#[derive(Debug)]
pub enum Resolved {
    /// Literal addresses, ready to use.
    Ready(Vec<SocketAddr>),
    /// A `host:port` that needs `getaddrinfo` (run on a thread).
    Lookup(String),
}

mod sealed {
    /// Keeps [`ToSocketAddrs`](super::ToSocketAddrs) closed to our address forms.
    pub trait Sealed {
        /// Parses the literal forms; defers host names to a lookup.
        fn resolved(&self) -> super::Resolved;
    }
}

/// An address a socket can bind or connect to: a `SocketAddr`, `(IpAddr, u16)`, `"ip:port"`,
/// `"host:port"`, `(&str, u16)`, a `String`, or a slice of `SocketAddr`s (tried in order).
///
/// Host names are resolved on the default executor, so the loop never waits on DNS.
///
/// # Examples
///
/// ```
/// let addrs = evloop::run(async {
///     evloop::net::lookup_host("127.0.0.1:8080").await.unwrap()
/// }).unwrap();
/// assert_eq!(addrs, ["127.0.0.1:8080".parse().unwrap()]);
/// ```
pub trait ToSocketAddrs: sealed::Sealed {}

impl<T: sealed::Sealed + ?Sized> ToSocketAddrs for T {}

impl sealed::Sealed for SocketAddr {
    fn resolved(&self) -> Resolved {
        Resolved::Ready(vec![*self])
    }
}

impl sealed::Sealed for SocketAddrV4 {
    fn resolved(&self) -> Resolved {
        Resolved::Ready(vec![SocketAddr::V4(*self)])
    }
}

impl sealed::Sealed for SocketAddrV6 {
    fn resolved(&self) -> Resolved {
        Resolved::Ready(vec![SocketAddr::V6(*self)])
    }
}

impl sealed::Sealed for (IpAddr, u16) {
    fn resolved(&self) -> Resolved {
        Resolved::Ready(vec![SocketAddr::from(*self)])
    }
}

impl sealed::Sealed for (Ipv4Addr, u16) {
    fn resolved(&self) -> Resolved {
        Resolved::Ready(vec![SocketAddr::from(*self)])
    }
}

impl sealed::Sealed for (Ipv6Addr, u16) {
    fn resolved(&self) -> Resolved {
        Resolved::Ready(vec![SocketAddr::from(*self)])
    }
}

impl sealed::Sealed for [SocketAddr] {
    fn resolved(&self) -> Resolved {
        Resolved::Ready(self.to_vec())
    }
}

impl sealed::Sealed for str {
    fn resolved(&self) -> Resolved {
        match self.parse::<SocketAddr>() {
            Ok(addr) => Resolved::Ready(vec![addr]),
            Err(_) => Resolved::Lookup(self.to_owned()),
        }
    }
}

impl sealed::Sealed for String {
    fn resolved(&self) -> Resolved {
        self.as_str().resolved()
    }
}

impl sealed::Sealed for (&str, u16) {
    fn resolved(&self) -> Resolved {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => Resolved::Ready(vec![SocketAddr::new(ip, self.1)]),
            Err(_) => Resolved::Lookup(format!("{}:{}", self.0, self.1)),
        }
    }
}

impl sealed::Sealed for (String, u16) {
    fn resolved(&self) -> Resolved {
        (self.0.as_str(), self.1).resolved()
    }
}

impl<T: sealed::Sealed + ?Sized> sealed::Sealed for &T {
    fn resolved(&self) -> Resolved {
        (**self).resolved()
    }
}

/// Resolves `host` to socket addresses (asyncio's `getaddrinfo`), on the default executor
/// when it is a name, at once when it is a literal.
///
/// # Errors
///
/// `getaddrinfo`'s error; an error of kind `Other` if the lookup thread could not run
/// (a pool shut down); an `InvalidInput` error if the name resolved to nothing.
///
/// # Panics
///
/// Outside a running loop, when a name needs a lookup thread (see [`to_thread`](crate::to_thread)).
///
/// # Examples
///
/// ```
/// let addrs = evloop::run(async {
///     evloop::net::lookup_host("localhost:80").await.unwrap()
/// }).unwrap();
/// assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
/// ```
pub async fn lookup_host(host: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let addrs = match sealed::Sealed::resolved(&host) {
        Resolved::Ready(addrs) => addrs,
        Resolved::Lookup(name) => crate::to_thread(move || {
            std::net::ToSocketAddrs::to_socket_addrs(&name).map(|addrs| addrs.collect())
        })
        .await
        .map_err(io::Error::other)??,
    };
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing; fix: pass an address with an IP and a port",
        ));
    }
    Ok(addrs)
}

/// Tries `attempt` on each address of `addrs` in order; the first success wins, otherwise
/// the last error is returned (what std and tokio do with several addresses).
pub(crate) async fn each_addr<T, F, Fut>(addrs: impl ToSocketAddrs, mut attempt: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in lookup_host(addrs).await? {
        match attempt(addr).await {
            Ok(value) => return Ok(value),
            Err(error) => last = Some(error),
        }
    }
    Err(last.expect("lookup_host returns at least one address"))
}
