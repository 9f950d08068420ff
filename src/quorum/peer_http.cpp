#include "quorum/peer_http.h"

#include <algorithm>
#include <chrono>

#include "net/curl.h"

namespace aha::quorum {

curl_slist* SetUpPeerHandle(CURL* e, const config::PeerConfig& pc, const std::string& token,
                            double timeout_seconds, curl_slist* headers, char* errbuf,
                            size_t index) {
  if (!token.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  }
  curl_easy_setopt(e, CURLOPT_URL, pc.url.c_str());
  net::EasyOptions opts;
  opts.user_agent = "agency-ha/" AHA_VERSION " (observer quorum)";
  opts.timeout = opts.connect_timeout =
      std::chrono::milliseconds(std::max(1L, static_cast<long>(timeout_seconds * 1000)));
  opts.no_proxy = true;
  opts.tls = pc.tls;
  net::ApplyOptions(e, opts);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(e, CURLOPT_PRIVATE, reinterpret_cast<void*>(index));
  return headers;
}

}  // namespace aha::quorum
