// The libcurl set-up both requests to a peer share: the poll's GET of its observations and the
// push's POST of this controller's verdict (quorum/poller.h, quorum/push.h). One place, so the two
// cannot drift: a peer is talked to directly (never through a proxy), with its own TLS settings,
// the quorum's per-peer timeout and its bearer token.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <string>

#include "config/controller_config.h"

namespace aha::quorum {

// Sets `e` up for peer `pc`: URL, user agent, timeouts (connect and total) of `timeout_seconds`
// (at least 1 ms), no proxy, TLS, `errbuf` (CURL_ERROR_SIZE bytes) and `index` as CURLOPT_PRIVATE.
// Appends "Authorization: Bearer <token>" to `headers` when `token` is not empty, sets the list
// as CURLOPT_HTTPHEADER and returns it (the caller frees it after the handle). The method and the
// write callback are the caller's.
curl_slist* SetUpPeerHandle(CURL* e, const config::PeerConfig& pc, const std::string& token,
                            double timeout_seconds, curl_slist* headers, char* errbuf,
                            size_t index);

}  // namespace aha::quorum
