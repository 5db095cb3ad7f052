//===- PeerSocket.cpp - Has the client of a request gone away? ------------===//
#include "PeerSocket.h"

#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>

namespace birkhoff::serve {
namespace {

/// The numeric host and the port of `addr`, or false.
bool hostAndPort(const sockaddr_storage &addr, socklen_t len, std::string &host,
                 int &port) {
  char h[NI_MAXHOST], s[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr *>(&addr), len, h, sizeof h,
                  s, sizeof s, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return false;
  host = h;
  port = std::atoi(s);
  return true;
}

} // namespace

int findConnectionSocket(int localPort, const std::string &peerAddress,
                         int peerPort) {
  DIR *dir = opendir("/proc/self/fd");
  if (!dir)
    return -1;
  int found = -1;
  while (dirent *e = readdir(dir)) {
    char *end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dirfd(dir))
      continue;
    sockaddr_storage local{}, peer{};
    socklen_t localLen = sizeof local, peerLen = sizeof peer;
    if (getsockname(int(fd), reinterpret_cast<sockaddr *>(&local), &localLen) !=
            0 ||
        (local.ss_family != AF_INET && local.ss_family != AF_INET6) ||
        getpeername(int(fd), reinterpret_cast<sockaddr *>(&peer), &peerLen) !=
            0)
      continue;
    std::string localHost, peerHost;
    int lp = 0, pp = 0;
    if (hostAndPort(local, localLen, localHost, lp) && lp == localPort &&
        hostAndPort(peer, peerLen, peerHost, pp) && pp == peerPort &&
        peerHost == peerAddress) {
      found = int(fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

bool peerHungUp(int fd) {
  if (fd < 0)
    return false;
  pollfd p{fd, POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0)
    return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

} // namespace birkhoff::serve
