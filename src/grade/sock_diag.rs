//! TCP sockets as the kernel describes them through netlink's sock_diag interface (what
//! `ss` uses), for Linux.
//!
//! Why not `/proc/net/tcp`: reading it walks the kernel's whole table of connections,
//! which is sized for the machine (262,144 buckets here) and shared by every network
//! namespace, so each read costs about a millisecond however few sockets there are, and
//! net_grade asks often. sock_diag answers the two questions it asks most without that
//! walk: which sockets listen (a table of its own), and the one socket between two given
//! addresses (a hash lookup).

use std::io;
use std::net::{IpAddr, SocketAddr};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, TCP_LISTEN};
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponse, SocketId, StateFlags,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::Socket;

/// One TCP socket of this network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSocket {
    /// Its own address (IPv4 written as IPv6 is turned back into IPv4).
    pub local: SocketAddr,
    /// Its peer's address (unspecified for a listening socket).
    pub remote: SocketAddr,
    /// Whether it is listening.
    pub listening: bool,
    /// For a connection, bytes received that its owner has not read; for a listening
    /// socket, connections waiting to be accepted.
    pub unread: u32,
    /// Its inode, which names it in `/proc/PID/fd` (0 until a program holds it, e.g.
    /// while a connection waits to be accepted).
    pub inode: u64,
}

/// Every listening TCP socket, IPv4 and IPv6.
///
/// # Errors
/// When the kernel cannot be asked (no sock_diag support).
pub fn listening() -> io::Result<Vec<TcpSocket>> {
    dump(StateFlags::LISTEN)
}

/// Every TCP socket that listens or is connected, IPv4 and IPv6. This walks the whole
/// connection table: for questions asked now and then, not in a polling loop.
///
/// # Errors
/// When the kernel cannot be asked (no sock_diag support).
pub fn listening_or_connected() -> io::Result<Vec<TcpSocket>> {
    dump(StateFlags::LISTEN | StateFlags::ESTABLISHED)
}

fn dump(states: StateFlags) -> io::Result<Vec<TcpSocket>> {
    let mut found = ask(AF_INET, states.clone(), None)?;
    found.extend(ask(AF_INET6, states, None)?);
    Ok(found)
}

/// The socket whose own address is `local` and whose peer is `remote`, if there is one.
///
/// # Errors
/// When the kernel cannot be asked (no sock_diag support).
pub fn between(local: SocketAddr, remote: SocketAddr) -> io::Result<Option<TcpSocket>> {
    let (local, remote) = (canonical(local), canonical(remote));
    let family = if local.is_ipv4() { AF_INET } else { AF_INET6 };
    let found = ask(family, StateFlags::all(), Some((local, remote)))?;
    // With no such connection, the kernel may answer with the socket listening on
    // `local` instead: only an exact match counts.
    Ok(found
        .into_iter()
        .find(|s| !s.listening && s.local == local && s.remote == remote))
}

/// Sends one request: a dump of the sockets of `family` in `states`, or with `exact`,
/// the one socket between those two addresses.
fn ask(
    family: u8,
    states: StateFlags,
    exact: Option<(SocketAddr, SocketAddr)>,
) -> io::Result<Vec<TcpSocket>> {
    let mut socket_id = match family {
        AF_INET => SocketId::new_v4(),
        _ => SocketId::new_v6(),
    };
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST;
    match exact {
        Some((local, remote)) => {
            socket_id.source_address = local.ip();
            socket_id.source_port = local.port();
            socket_id.destination_address = remote.ip();
            socket_id.destination_port = remote.port();
            // "Any socket": the cookie names one incarnation of a connection.
            socket_id.cookie = [0xff; 8];
        }
        None => header.flags |= NLM_F_DUMP,
    }
    let request = SockDiagMessage::InetRequest(InetRequest {
        family,
        protocol: IPPROTO_TCP,
        extensions: ExtensionFlags::empty(),
        states,
        socket_id,
    });
    let mut packet = NetlinkMessage::new(header, request.into());
    packet.finalize();
    let mut bytes = vec![0; packet.buffer_len()];
    packet.serialize(&mut bytes);

    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.send(&bytes, 0)?;
    receive(&socket, exact.is_some())
}

/// Reads the answers to one request: up to the end of a dump, or the one answer (a
/// socket, or an error) to an exact request.
fn receive(socket: &Socket, exact: bool) -> io::Result<Vec<TcpSocket>> {
    let mut found = Vec::new();
    let mut buffer = vec![0; 32 * 1024];
    loop {
        let size = socket.recv(&mut &mut buffer[..], 0)?;
        let mut offset = 0;
        while offset < size {
            let message = NetlinkMessage::<SockDiagMessage>::deserialize(&buffer[offset..size])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            match message.payload {
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                    found.push(describe(&response));
                    if exact {
                        return Ok(found);
                    }
                }
                NetlinkPayload::Done(_) => return Ok(found),
                // An exact request for a socket that does not exist fails with ENOENT.
                NetlinkPayload::Error(_) if exact => return Ok(found),
                NetlinkPayload::Error(error) => return Err(error.to_io()),
                _ => {}
            }
            let length = message.header.length as usize;
            if length == 0 {
                break;
            }
            offset += length;
        }
    }
}

fn describe(response: &InetResponse) -> TcpSocket {
    let id = &response.header.socket_id;
    TcpSocket {
        local: canonical(SocketAddr::new(id.source_address, id.source_port)),
        remote: canonical(SocketAddr::new(id.destination_address, id.destination_port)),
        listening: response.header.state == TCP_LISTEN,
        unread: response.header.recv_queue,
        inode: u64::from(response.header.inode),
    }
}

/// `addr` with an IPv4 address written as IPv6 (`::ffff:127.0.0.1`) turned back into
/// IPv4, so both ends of one connection compare equal whichever family lists them.
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};

    use super::*;

    #[test]
    fn a_listening_socket_is_listed_with_its_waiting_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let _client = TcpStream::connect(addr).expect("connect");
        // The connection joins the backlog once the kernel has handled the handshake's
        // last packet, which a busy machine may do a moment after connect() returns.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let ours = loop {
            let ours = listening()
                .expect("sock_diag")
                .into_iter()
                .find(|s| s.local == addr)
                .expect("our listener is listed");
            if ours.unread > 0 || std::time::Instant::now() >= deadline {
                break ours;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        assert!(ours.listening);
        assert_eq!(ours.unread, 1, "one connection waits to be accepted");
    }

    #[test]
    fn no_connection_between_two_addresses_is_none_even_beside_a_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let nobody = SocketAddr::from(([127, 0, 0, 1], 9));
        assert_eq!(between(addr, nobody).expect("sock_diag"), None);
    }

    #[test]
    fn an_ipv4_connection_to_a_dual_stack_listener_is_found_by_ipv4_addresses() {
        let Ok(listener) = TcpListener::bind("[::]:0") else {
            return; // No IPv6 here.
        };
        let port = listener.local_addr().expect("address").port();
        let client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let (_server, _) = listener.accept().expect("accept");
        let (theirs, ours) = (
            client.peer_addr().expect("a"),
            client.local_addr().expect("b"),
        );
        let found = between(theirs, ours).expect("sock_diag").expect("found");
        assert_eq!((found.local, found.remote), (theirs, ours));
        assert!(found.inode != 0);
    }
}
