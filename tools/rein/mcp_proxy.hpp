// `rein mcp proxy`: serves MCP over stdin/stdout to a client (a desktop assistant, an IDE) and
// forwards to a real server, deciding every tools/call with a rein policy first.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "rein/mcp_client.hpp"
#include "rein/principal.hpp"

namespace rein::cli {

struct ProxyOptions {
  McpClientOptions upstream{};  // upstream.name is the tools' namespace in the policy
  std::string policy_path{};
  std::string audit_path{};  // "" : no audit
  Principal principal{"mcp-client", {}};
  // Arguments from the client are untrusted (labels.hpp) unless the host says otherwise: the
  // client's model may have read anything.
  bool trust_client = false;
  std::optional<std::string> pinned_catalog{};
};

// Runs until the client closes stdin. Returns the process exit code.
int run_mcp_proxy(const ProxyOptions& options);

}  // namespace rein::cli
