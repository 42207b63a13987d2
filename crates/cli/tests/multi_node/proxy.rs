//! A TCP proxy between one node and PostgreSQL that the test can cut and
//! restore, on the same port, as a network failure would.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub addr: SocketAddr,
    open: watch::Sender<bool>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (open, _) = watch::channel(true);
        let accepting = tokio::spawn({
            let open = open.subscribe();
            async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    // While cut, the port stays ours but every connection is
                    // closed at once, like a peer that is gone.
                    if *open.borrow() {
                        tokio::spawn(pipe(inbound, upstream, open.clone()));
                    }
                }
            }
        });
        Self { addr, open, accepting }
    }

    /// Closes every piped connection and refuses new ones.
    pub fn cut(&self) {
        self.open.send_replace(false);
    }

    pub fn restore(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accepting.abort();
    }
}

async fn pipe(mut inbound: TcpStream, upstream: SocketAddr, mut open: watch::Receiver<bool>) {
    let Ok(mut outbound) = TcpStream::connect(upstream).await else { return };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = open.wait_for(|open| !*open) => {}
    }
}
