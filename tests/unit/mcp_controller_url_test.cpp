// Where `agency-ha mcp` reads the controller's live observations (src/mcp/command.h): the
// configured mcp.controllerUrl, else the controller config's own `listen` made reachable.
#include <gtest/gtest.h>

#include "mcp/command.h"

namespace aha::mcp {
namespace {

TEST(ControllerUrlFor, ConfiguredUrlElseTheListenAddress) {
  const struct {
    const char* name;
    bool set;
    std::string url, listen, want;
  } cases[] = {
      {"configured wins", true, "http://ctl:9090", "0.0.0.0:9191", "http://ctl:9090"},
      {"configured empty: none", true, "", "0.0.0.0:9191", ""},
      {"wildcard host reads as loopback", false, "", "0.0.0.0:9090", "http://127.0.0.1:9090"},
      {"empty host reads as loopback", false, "", ":9090", "http://127.0.0.1:9090"},
      {"IPv6 wildcard reads as loopback", false, "", "[::]:9090", "http://127.0.0.1:9090"},
      {"IPv6 host is bracketed", false, "", "[::1]:9090", "http://[::1]:9090"},
      {"a named host is kept", false, "", "10.0.0.5:8080", "http://10.0.0.5:8080"},
      {"listen disabled: none", false, "", "", ""},
      {"port 0: none", false, "", "127.0.0.1:0", ""},
      {"unparseable listen: none", false, "", "not an address", ""},
  };
  for (const auto& c : cases) {
    config::McpConfig mc;
    mc.controller_url_set = c.set;
    mc.controller_url = c.url;
    EXPECT_EQ(ControllerUrlFor(mc, c.listen), c.want) << c.name;
  }
}

}  // namespace
}  // namespace aha::mcp
