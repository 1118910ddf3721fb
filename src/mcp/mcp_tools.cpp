// register_mcp_tools: an MCP server's tools as asynchronous rein tools, with the catalog
// checked against a pin at registration and against the registered definitions at call time.
#include "rein/mcp_tools.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "core/host_call.hpp"
#include "core/log.hpp"
#include "core/sha256.hpp"

namespace rein {
namespace {

using nlohmann::json;

// A tool's definition as the hash and drift checks see it.
json definition(const McpTool& t) {
  return {{"name", t.name},
          {"description", t.description},
          {"inputSchema", t.input_schema},
          {"outputSchema", t.output_schema},
          {"annotations", t.annotations}};
}

std::string canonical(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// One registration's state, shared by its tools' callbacks.
struct ToolSet {
  std::shared_ptr<McpClient> client;
  McpToolOptions options;
  std::string server;                             // the client's name
  std::string identity;                           // "<serverInfo.name> <version>"
  std::map<std::string, std::string> registered;  // server tool name -> canonical definition
  std::mutex mutex;
  std::set<std::string> drifted;  // tools whose definition changed since registration
  std::mutex refresh_mutex;
  // The audit chain of this registration's catalog entries.
  std::string audit_run;
  std::int64_t audit_seq = 0;
  std::string audit_head;

  void audit(const json& payload) {
    if (!options.audit) return;
    AuditEntry entry;
    {
      std::lock_guard lock(mutex);
      entry = make_audit_entry(audit_run, audit_seq++, audit_head, 0, "mcp_catalog", payload,
                               Env::system().unix_millis());
      audit_head = entry.hash;
    }
    if (auto written = options.audit->write({&entry, 1}); !written) {
      detail::logger()->error("MCP server '{}': cannot write the audit: {}", server,
                              written.error().message());
    }
  }

  // Lists the tools again after the server said they changed, and marks what drifted.
  void refresh() {
    std::lock_guard serial(refresh_mutex);
    if (!client->tools_stale()) return;
    auto tools = client->list_tools();
    if (!tools) {
      detail::logger()->warn("MCP server '{}': cannot list its tools again: {}", server,
                             tools.error().message());
      return;
    }
    std::map<std::string, std::string> now;
    for (const auto& t : *tools)
      now[t.name] = canonical(definition(t));
    std::vector<std::string> changed, removed;
    for (const auto& [name, def] : registered) {
      auto it = now.find(name);
      if (it == now.end()) {
        removed.push_back(name);
      } else if (it->second != def) {
        changed.push_back(name);
      }
    }
    bool news = false;
    {
      std::lock_guard lock(mutex);
      for (const auto& n : changed)
        news |= drifted.insert(n).second;
      for (const auto& n : removed)
        news |= drifted.insert(n).second;
    }
    if (news) {
      detail::logger()->warn("MCP server '{}' changed tools since they were registered", server);
      audit({{"server", server},
             {"event", "drift"},
             {"observed_hash", mcp_catalog_hash(*tools)},
             {"changed", changed},
             {"removed", removed},
             {"decision", "calls to these tools refused"}});
    }
  }

  bool is_drifted(const std::string& tool) {
    std::lock_guard lock(mutex);
    return drifted.count(tool) > 0;
  }

  void start_call(const std::string& tool, const std::string& rein_name, AsyncToolCall call) {
    if (is_drifted(tool)) {
      ToolResult refused = ToolResult::failure(
          "MCP tool '" + rein_name +
          "' changed on the server since it was registered (its description, schemas or "
          "annotations); register the server's tools again to accept the change");
      refused.status = ToolStatus::denied;
      call.complete(std::move(refused));
      return;
    }
    const auto& ctx = call.context();
    McpCallOptions call_options;
    call_options.cancellation = ctx.cancellation();
    if (ctx.deadline() != Env::TimePoint::max()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(ctx.deadline() - ctx.env().now());
      call_options.timeout = std::max(left, std::chrono::milliseconds(1));
    }
    const std::string uri = "mcp://" + server + "/" + tool;
    const std::size_t limit = options.max_result_bytes;
    const std::string who = identity;
    client->call_tool_async(
        tool, call.args(), std::move(call_options),
        [call, uri, limit, who, rein_name](Result<McpToolResult> r) {
          ToolResult out;
          if (!r) {
            out = ToolResult::failure(r.error().message(),
                                      r.error().code() == ErrorCode::unavailable);
            if (r.error().code() == ErrorCode::timeout) out.status = ToolStatus::timeout;
          } else if (r->is_error) {
            auto text = r->text();
            out = ToolResult::failure("MCP tool '" + rein_name + "' failed: " +
                                      (text.empty() ? std::string("(no text)") : text));
          } else {
            json data = !r->structured_content.is_null() ? std::move(r->structured_content)
                                                         : json{{"content", std::move(r->content)}};
            const auto size = canonical(data).size();
            if (size > limit) {
              out = ToolResult::failure("MCP tool '" + rein_name + "' returned " +
                                        std::to_string(size) + " bytes, over the limit of " +
                                        std::to_string(limit));
            } else {
              out = ToolResult::success(std::move(data));
            }
          }
          out.evidence.push_back(Evidence{.type = "mcp", .uri = uri, .excerpt = who});
          call.complete(std::move(out));
        });
  }
};

Status check_pin(ToolSet& set, const std::vector<McpTool>& tools, const std::string& hash) {
  const auto& o = set.options;
  if (!o.pinned_catalog) return {};
  if (*o.pinned_catalog == hash) {
    set.audit({{"server", set.server}, {"event", "pin"}, {"hash", hash}, {"decision", "matched"}});
    return {};
  }
  McpCatalogDrift drift;
  drift.server = set.server;
  drift.pinned_hash = *o.pinned_catalog;
  drift.observed_hash = hash;
  for (const auto& t : tools)
    drift.added.push_back(t.name);  // all tools are new to the pin
  bool approved = false;
  if (o.on_catalog_change == McpCatalogChange::require_approval && o.approve_catalog_change) {
    auto answer = detail::call_host("approve_catalog_change",
                                    [&] { return o.approve_catalog_change(drift); });
    approved = answer && *answer;
  }
  set.audit({{"server", set.server},
             {"event", "pin"},
             {"pinned_hash", drift.pinned_hash},
             {"observed_hash", hash},
             {"decision", approved ? "approved" : "refused"}});
  if (approved) return {};
  return Error(ErrorCode::permission_denied,
               "the catalog of MCP server '" + set.server + "' changed: its hash is " + hash +
                   ", the pinned one " + drift.pinned_hash +
                   (o.on_catalog_change == McpCatalogChange::require_approval
                        ? "; the change was not approved"
                        : "; refused (pinned_catalog)"));
}

}  // namespace

std::string mcp_catalog_hash(const std::vector<McpTool>& tools) {
  std::vector<const McpTool*> sorted;
  for (const auto& t : tools)
    sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(),
            [](const McpTool* a, const McpTool* b) { return a->name < b->name; });
  json all = json::array();
  for (const auto* t : sorted)
    all.push_back(definition(*t));
  return sha256_hex(canonical(all));
}

std::string mcp_tool_name(const std::string& prefix, const std::string& tool) {
  std::string name;
  for (char c : tool) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    name.push_back(ok ? c : '_');
  }
  if (name.empty() || !((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z'))) {
    name.insert(0, "t");
  }
  return prefix + "." + name;
}

Result<McpRegistration> register_mcp_tools(ToolRegistry& registry,
                                           std::shared_ptr<McpClient> client,
                                           McpToolOptions options) {
  if (!client) return Error(ErrorCode::invalid_argument, "register_mcp_tools: no client");
  auto tools = client->list_tools();
  if (!tools) return tools.error();

  auto set = std::make_shared<ToolSet>();
  set->client = client;
  set->server = client->name();
  const auto info = client->server_info();
  set->identity = info.name + (info.version.empty() ? "" : " " + info.version);
  static std::atomic<std::uint64_t> registrations{0};
  set->audit_run = "mcp:" + set->server + ":" + std::to_string(Env::system().unix_millis()) + "-" +
                   std::to_string(registrations++);
  if (options.prefix.empty()) options.prefix = set->server;
  set->options = options;

  McpRegistration out;
  out.catalog_hash = mcp_catalog_hash(*tools);
  if (auto pinned = check_pin(*set, *tools, out.catalog_hash); !pinned) return pinned.error();

  for (const auto& tool : *tools) {
    if (!options.only.empty() &&
        std::find(options.only.begin(), options.only.end(), tool.name) == options.only.end()) {
      continue;
    }
    McpToolTraits traits;
    if (options.confirm) {
      auto confirmed =
          detail::call_host("McpToolOptions::confirm", [&] { return options.confirm(tool); });
      if (confirmed) traits = *confirmed;
    }
    ToolSpec spec;
    spec.name = mcp_tool_name(options.prefix, tool.name);
    std::string description = tool.description.empty() ? tool.title : tool.description;
    if (description.size() > options.max_description_chars) {
      description = description.substr(0, options.max_description_chars) + "...";
    }
    spec.description = "(MCP server '" + set->server + "') " +
                       (description.empty() ? "tool " + tool.name : description);
    spec.input_schema = tool.input_schema;
    spec.permissions = options.permissions;
    spec.side_effects = traits.side_effects;
    spec.trusted_output = options.trusted_output;
    spec.output_level = options.output_level;
    spec.version = info.version.empty() ? "mcp" : info.version;
    spec.timeout = options.timeout;
    spec.retry = options.retry;
    spec.retry.retry_on_timeout = false;  // a call that timed out may still have acted
    if (!traits.retry_safe) spec.retry.max_attempts = 1;
    spec.circuit_breaker = options.circuit_breaker;
    const std::string server_name = tool.name;
    const std::string rein_name = spec.name;
    auto registered = registry.register_async_tool(
        std::move(spec), [set, server_name, rein_name](AsyncToolCall call) {
          if (set->client->tools_stale()) {
            // Listing again blocks; the run's thread must not.
            std::thread([set, server_name, rein_name, call] {
              set->refresh();
              set->start_call(server_name, rein_name, call);
            }).detach();
            return;
          }
          set->start_call(server_name, rein_name, std::move(call));
        });
    if (!registered) {
      out.skipped.push_back(tool.name + ": " + registered.error().message());
      continue;
    }
    set->registered[tool.name] = canonical(definition(tool));
    out.registered.push_back(rein_name);
  }
  for (const auto& s : out.skipped) {
    detail::logger()->warn("MCP server '{}': tool skipped: {}", set->server, s);
  }
  return out;
}

}  // namespace rein
