// The requests a controller makes to its peers: the poll's GET of their observations and the
// push's POST of this controller's verdict (quorum/poller.h, quorum/push.h). One place, so the two
// cannot drift:
// - a peer is talked to directly (never through a proxy), with its own TLS settings, the quorum's
//   per-peer timeout (connect and total) and its bearer token;
// - one request per peer, all at once on one libcurl multi handle, so a round takes as long as
//   the slowest peer (bounded by the timeout), not the sum;
// - the handles are made once and reused (kept-alive connections), and freed together;
// - an answer's body is bounded: over `max_body` it either fails the transfer (the poll: a report
//   that large is not one) or is cut there (the push: only a short JSON error is read).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/controller_config.h"

namespace aha::quorum {

class PeerRequests {
 public:
  struct Options {
    double timeout_seconds = 1;        // per request, connect included (at least 1 ms)
    std::vector<std::string> headers;  // sent before "Authorization: Bearer <token>"
    size_t max_body = 1 << 20;
    bool fail_over_max = true;  // false: keep the first max_body bytes, read and drop the rest
  };
  // One request slot per peer, in `peers` order; `tokens` by peer name ("" or absent: none).
  PeerRequests(const std::vector<config::PeerConfig>& peers,
               const std::map<std::string, std::string>& tokens, Options opts);
  ~PeerRequests();
  PeerRequests(const PeerRequests&) = delete;
  PeerRequests& operator=(const PeerRequests&) = delete;

  struct Answer {
    size_t index = 0;   // the peer's position in `peers`
    long status = 0;    // HTTP status; 0 when the transfer failed
    std::string error;  // the transport error ("" when an HTTP answer came)
    std::string body;   // bounded as Options say
  };
  // Sends one request to every peer at once and waits for all: GET when `post_body` is null,
  // else POST of *post_body (which must outlive the call). Returns the answers in completion
  // order; a peer missing from them got none (only when the multi handle itself failed).
  std::vector<Answer> RunAll(const std::string* post_body = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aha::quorum
