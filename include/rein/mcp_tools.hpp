// MCP tools as rein tools: register_mcp_tools() lists a server's tools and registers each in a
// ToolRegistry as an asynchronous tool named "<server>.<tool>", so that an MCP tool goes
// through exactly what an in-process one does: policy (its permissions), approvals, budgets,
// the input schema, deadlines (the call's timeout; the server is told to cancel), retries,
// circuit breakers and the audit.
//
// Trust. Everything a server says about its tools is a claim:
//   - annotations (readOnlyHint, destructiveHint, idempotentHint, openWorldHint) are hints.
//     Every MCP tool is side-effecting unless McpToolOptions::confirm says otherwise; the host
//     sees the hints and decides;
//   - descriptions are shown to models prefixed with the server's name, cut to
//     max_description_chars; outputs are untrusted (labels.hpp) unless the host vouches;
//   - the catalog may change under the host's feet. A tool whose definition (description,
//     schemas, annotations) differs from the one registered is refused at call time (status
//     denied), and the drift is audited. With pinned_catalog, the whole catalog's hash must
//     match at registration: a mismatch is refused, or put to approve_catalog_change.
//
// What a call returns: ToolResult::data is the tool's structuredContent when it has one (then
// checked against its outputSchema by the client), otherwise {"content": [...]} with the
// content items as the server sent them. isError becomes a permanent error whose message is
// the result's text; a transport failure (the server crashed, was cut off, is restarting)
// becomes a transient error, which the registry may retry. Each result carries the evidence
// {type "mcp", uri "mcp://<server>/<tool>", excerpt "<server name> <version>"}: the audit's
// tool_call entry records which server answered.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rein/audit.hpp"
#include "rein/error.hpp"
#include "rein/mcp_client.hpp"
#include "rein/tool.hpp"
#include "rein/tool_registry.hpp"

namespace rein {

// What the host confirms about one tool after reading its hints.
struct McpToolTraits {
  bool side_effects = true;  // false only when the host is sure the tool changes nothing
  bool retry_safe = false;   // a transient failure may be retried (idempotent, or no effects)
};

enum class McpCatalogChange {
  refuse,            // registration fails with permission_denied
  require_approval,  // approve_catalog_change decides (no callback: refused)
};

// What a changed catalog looks like to the one who approves it.
struct McpCatalogDrift {
  std::string server{};
  std::string pinned_hash{};
  std::string observed_hash{};
  std::vector<std::string> added{}, removed{}, changed{};  // tool names (the server's)
};

struct McpToolOptions {
  std::string prefix{};  // the name's first part; "" : the client's name
  // ToolSpec::permissions of every tool: roles one of which the principal must hold
  // (policy.hpp); empty: none beyond what the policy's rules require.
  std::vector<std::string> permissions{};
  std::vector<std::string> only{};  // the server's tool names to register; empty: all
  // The host's reading of each tool's hints; nullptr: every tool has side effects and is not
  // retried.
  std::function<McpToolTraits(const McpTool& tool)> confirm{};
  std::chrono::milliseconds timeout{60'000};  // per attempt (ToolSpec::timeout)
  RetryPolicy retry{};                        // for retry-safe tools; others get one attempt
  CircuitBreakerOptions circuit_breaker{};
  bool trusted_output = false;  // labels.hpp: vouch for what these tools return
  std::string output_level{};
  std::size_t max_description_chars = 2000;
  std::size_t max_result_bytes = 4u << 20;      // a larger result is an error
  std::optional<std::string> pinned_catalog{};  // mcp_catalog_hash() of the expected catalog
  McpCatalogChange on_catalog_change = McpCatalogChange::refuse;
  std::function<bool(const McpCatalogDrift&)> approve_catalog_change{};
  // Catalog checks and drift are written here (kind "mcp_catalog", run "mcp:<server>").
  std::shared_ptr<AuditSink> audit{};
};

struct McpRegistration {
  std::vector<std::string> registered{};  // rein names, e.g. "fs.read_file"
  // Tools left out, each with why (a name that cannot be made a rein name, a schema that does
  // not compile, a name that collides).
  std::vector<std::string> skipped{};
  std::string catalog_hash{};
};

// The SHA-256 (hex) of a catalog's canonical form: tools sorted by name, each with its name,
// description, inputSchema, outputSchema and annotations. Titles and order do not count.
std::string mcp_catalog_hash(const std::vector<McpTool>& tools);

// The rein name for a server's tool: "<prefix>.<tool>", with characters outside
// [A-Za-z0-9_-] replaced by '_' and a leading non-letter prefixed with "t".
std::string mcp_tool_name(const std::string& prefix, const std::string& tool);

// Lists the server's tools and registers them. Fails (registering nothing) when listing fails
// or a pinned catalog changed and was not approved.
Result<McpRegistration> register_mcp_tools(ToolRegistry& registry,
                                           std::shared_ptr<McpClient> client,
                                           McpToolOptions options = {});

}  // namespace rein
