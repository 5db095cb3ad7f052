//===- PeerSocket.h - Has the client of a request gone away? --------------===//
//
// cpp-httplib 0.11 gives a handler no socket, and a server learns that a
// client closed its connection only when a write fails. A request that waits
// for its tokens writes nothing for a while, so `birkhoff serve` finds the
// connection's socket among the process's descriptors by its two addresses
// (the handler's Request has them) and polls it for the peer's hang-up.
// The socket stays open while its handler runs (the handler's thread owns
// the connection), so the descriptor cannot change under the handler.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TOOLS_SERVE_PEERSOCKET_H
#define BIRKHOFF_TOOLS_SERVE_PEERSOCKET_H

#include <string>

namespace birkhoff::serve {

/// The descriptor of this process's TCP socket whose local port is
/// `localPort` and whose peer is `peerAddress` (numeric, as getnameinfo
/// writes it) port `peerPort`; -1 when there is none.
int findConnectionSocket(int localPort, const std::string &peerAddress,
                         int peerPort);

/// Whether the peer of `fd` has closed the connection (or it broke). Does
/// not wait. A negative `fd` is never closed.
bool peerHungUp(int fd);

} // namespace birkhoff::serve

#endif // BIRKHOFF_TOOLS_SERVE_PEERSOCKET_H
