//! TEMPORARY: a stand-in for `evloop::net` until the lead's "net:" commit lands.
#![allow(dead_code, missing_docs)]

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use evloop::IoSource;

pub struct TcpListener(IoSource<mio::net::TcpListener>);
pub struct TcpStream(IoSource<mio::net::TcpStream>);

impl TcpListener {
    pub async fn bind(addr: &str) -> io::Result<TcpListener> {
        let lp = evloop::get_running_loop().map_err(io::Error::other)?;
        let l = mio::net::TcpListener::bind(addr.parse().unwrap())?;
        Ok(TcpListener(IoSource::new(&lp, l)?))
    }
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let lp = evloop::get_running_loop().map_err(io::Error::other)?;
        let (s, a) = self.0.read_with(|l| l.accept()).await?;
        Ok((TcpStream(IoSource::new(&lp, s)?), a))
    }
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().local_addr()
    }
}

impl TcpStream {
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let lp = evloop::get_running_loop().map_err(io::Error::other)?;
        let s = IoSource::new(&lp, mio::net::TcpStream::connect(addr)?)?;
        loop {
            s.writable().await?;
            if let Some(e) = s.get_ref().take_error()? {
                return Err(e);
            }
            match s.get_ref().peer_addr() {
                Ok(_) => return Ok(TcpStream(s)),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => s.clear_writable(),
                Err(e) => return Err(e),
            }
        }
    }
}

impl futures_io::AsyncRead for TcpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            match (&*self.0.get_ref()).read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.0.clear_readable();
                    ready!(self.0.poll_readable(cx))?;
                }
                r => return Poll::Ready(r),
            }
        }
    }
}

impl futures_io::AsyncWrite for TcpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            match (&*self.0.get_ref()).write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.0.clear_writable();
                    ready!(self.0.poll_writable(cx))?;
                }
                r => return Poll::Ready(r),
            }
        }
    }
    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        loop {
            match (&*self.0.get_ref()).write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.0.clear_writable();
                    ready!(self.0.poll_writable(cx))?;
                }
                r => return Poll::Ready(r),
            }
        }
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.get_ref().shutdown(std::net::Shutdown::Write))
    }
}
