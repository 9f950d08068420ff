// The controller's status page: one self-contained HTML document served at `/`.
//
// No external assets (works offline and under a strict CSP): inline CSS and script only. The
// script fetches `/v1/status` every second and renders, with DOM text nodes only (never
// innerHTML), so every value from the state or the config is escaped by construction:
//   - the regions (status, role, serving, promotion, reason, last probe),
//   - the serving set and the panic flag,
//   - recent transitions and drills on an SVG timeline (one lane per region: failed spans,
//     promoted spans, simulated outages when the status carries `simulatedOutages`),
//   - the transitions as a list, newest first.
// A failed fetch shows a banner and keeps the last rendering (the page itself fails static).
#pragma once

#include <string_view>

#include "httpd/server.h"

namespace aha::controller {

// The page (static: all data comes from /v1/status at run time).
std::string_view StatusPageHtml();
// 200 text/html with the page: the handler of the controller's `/` route.
httpd::Response StatusPageResponse();

}  // namespace aha::controller
