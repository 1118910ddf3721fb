// McpClient's public face: option checks, the blocking wrappers, paging, and reading the
// server's answers into McpTool and McpToolResult.
#include "rein/mcp_client.hpp"

#include <algorithm>
#include <future>
#include <set>
#include <utility>

#include "mcp/mcp_json.hpp"
#include "mcp/mcp_session.hpp"
#include "rein/json_schema.hpp"

namespace rein {
namespace {

using nlohmann::json;

constexpr int kMaxPages = 1000;

Status check_options(const McpClientOptions& o) {
  auto letter = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  auto name_char = [&](char c) {
    return letter(c) || (c >= '0' && c <= '9') || c == '_' || c == '-';
  };
  if (o.name.empty() || !letter(o.name[0]) ||
      !std::all_of(o.name.begin(), o.name.end(), name_char)) {
    return Error(ErrorCode::invalid_argument,
                 "McpClientOptions::name '" + o.name + "' must match [A-Za-z][A-Za-z0-9_-]*");
  }
  if (const auto* stdio = std::get_if<McpStdioServer>(&o.server)) {
    if (stdio->command.empty()) {
      return Error(ErrorCode::invalid_argument, "McpStdioServer::command is empty");
    }
  } else {
    const auto& http = std::get<McpHttpServer>(o.server);
    if (!http.url.starts_with("http://") && !http.url.starts_with("https://")) {
      return Error(ErrorCode::invalid_argument,
                   "McpHttpServer::url '" + http.url + "' must start with http:// or https://");
    }
  }
  if (o.protocol_versions.empty()) {
    return Error(ErrorCode::invalid_argument, "McpClientOptions::protocol_versions is empty");
  }
  for (const auto& v : o.protocol_versions) {
    if (v != "2025-11-25" && v != "2025-06-18" && v != "2026-07-28") {
      return Error(ErrorCode::invalid_argument,
                   "McpClientOptions::protocol_versions: '" + v +
                       "' is not a revision rein speaks (2025-06-18, 2025-11-25, 2026-07-28)");
    }
  }
  if (o.max_message_bytes < 1024) {
    return Error(ErrorCode::invalid_argument, "McpClientOptions::max_message_bytes is below 1024");
  }
  if (o.request_timeout.count() <= 0 || o.initialize_timeout.count() <= 0) {
    return Error(ErrorCode::invalid_argument, "McpClientOptions timeouts must be positive");
  }
  return {};
}

Error bad_field(const std::string& where, const std::string& what) {
  return Error(ErrorCode::invalid_argument, where + ": " + what);
}

}  // namespace

nlohmann::json McpTool::to_json() const {
  json j = {{"name", name}, {"inputSchema", input_schema}};
  if (!title.empty()) j["title"] = title;
  if (!description.empty()) j["description"] = description;
  if (!output_schema.is_null()) j["outputSchema"] = output_schema;
  if (!annotations.empty()) j["annotations"] = annotations;
  return j;
}

std::string McpToolResult::text() const {
  std::string out;
  for (const auto& item : content) {
    if (detail::string_field(item, "type") == "text" && item.contains("text") &&
        item["text"].is_string()) {
      if (!out.empty()) out += '\n';
      out += item["text"].get<std::string>();
    }
  }
  return out;
}

Result<McpToolResult> parse_mcp_tool_result(const json& result) {
  if (!result.is_object()) return bad_field("tools/call result", "is not an object");
  McpToolResult out;
  if (result.contains("content")) {
    if (!result["content"].is_array())
      return bad_field("tools/call result", "content is not an array");
    for (std::size_t i = 0; i < result["content"].size(); ++i) {
      const auto& item = result["content"][i];
      if (!item.is_object() || !item.contains("type") || !item["type"].is_string()) {
        return bad_field("tools/call result",
                         "content[" + std::to_string(i) + "] has no string 'type'");
      }
    }
    out.content = result["content"];
  }
  if (result.contains("structuredContent") && !result["structuredContent"].is_null()) {
    if (!result["structuredContent"].is_object()) {
      return bad_field("tools/call result", "structuredContent is not an object");
    }
    out.structured_content = result["structuredContent"];
  }
  if (result.contains("isError")) {
    if (!result["isError"].is_boolean())
      return bad_field("tools/call result", "isError is not a boolean");
    out.is_error = result["isError"].get<bool>();
  }
  return out;
}

Result<std::vector<McpTool>> parse_mcp_tools(const json& tools) {
  if (!tools.is_array()) return bad_field("tools/list result", "tools is not an array");
  std::vector<McpTool> out;
  for (std::size_t i = 0; i < tools.size(); ++i) {
    const auto& t = tools[i];
    const auto where = "tools/list tools[" + std::to_string(i) + "]";
    if (!t.is_object()) return bad_field(where, "is not an object");
    McpTool tool;
    if (!t.contains("name") || !t["name"].is_string() || t["name"].get<std::string>().empty()) {
      return bad_field(where, "has no name");
    }
    tool.name = t["name"].get<std::string>();
    if (t.contains("title") && t["title"].is_string()) tool.title = t["title"].get<std::string>();
    if (t.contains("description")) {
      if (!t["description"].is_string()) return bad_field(where, "description is not a string");
      tool.description = t["description"].get<std::string>();
    }
    if (!t.contains("inputSchema") || !t["inputSchema"].is_object()) {
      return bad_field(where, "inputSchema is missing or not an object");
    }
    tool.input_schema = t["inputSchema"];
    if (t.contains("outputSchema") && !t["outputSchema"].is_null()) {
      if (!t["outputSchema"].is_object()) return bad_field(where, "outputSchema is not an object");
      tool.output_schema = t["outputSchema"];
    }
    if (t.contains("annotations") && t["annotations"].is_object()) {
      tool.annotations = t["annotations"];
    }
    out.push_back(std::move(tool));
  }
  return out;
}

Result<std::shared_ptr<McpClient>> McpClient::connect(McpClientOptions options) {
  if (auto checked = check_options(options); !checked) return checked.error();
  auto impl = std::make_shared<Impl>(std::move(options));
  impl->start_watchdog();
  if (auto opened = impl->open_and_initialize(); !opened) {
    impl->close();
    return opened.error();
  }
  return std::shared_ptr<McpClient>(new McpClient(std::move(impl)));
}

McpClient::~McpClient() {
  impl_->close();
}

const std::string& McpClient::name() const noexcept {
  return impl_->options.name;
}

McpServerInfo McpClient::server_info() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->info;
}

void McpClient::request_async(std::string method, json params, McpCallOptions options,
                              Completion done) {
  impl_->send_request(std::move(method), std::move(params), std::move(options), std::move(done),
                      false);
}

Result<json> McpClient::request(std::string method, json params, McpCallOptions options) {
  auto promise = std::make_shared<std::promise<Result<json>>>();
  auto future = promise->get_future();
  request_async(std::move(method), std::move(params), std::move(options),
                [promise](Result<json> r) { promise->set_value(std::move(r)); });
  return future.get();
}

namespace {

// Follows nextCursor through every page, gathering the `key` array of each.
Result<json> all_pages(McpClient& client, const std::string& method, const std::string& key,
                       const McpCallOptions& options) {
  json items = json::array();
  std::set<std::string> seen;
  json params = json::object();
  for (int page = 0; page < kMaxPages; ++page) {
    auto result = client.request(method, params, options);
    if (!result) return result.error();
    if (!result->is_object() || !result->contains(key) || !(*result)[key].is_array()) {
      return bad_field(method + " result", "'" + key + "' is missing or not an array");
    }
    for (auto& item : (*result)[key])
      items.push_back(std::move(item));
    if (!result->contains("nextCursor") || (*result)["nextCursor"].is_null()) return items;
    if (!(*result)["nextCursor"].is_string()) {
      return bad_field(method + " result", "nextCursor is not a string");
    }
    auto cursor = (*result)["nextCursor"].get<std::string>();
    if (!seen.insert(cursor).second) {
      return bad_field(method + " result", "nextCursor repeats an earlier page's");
    }
    params["cursor"] = std::move(cursor);
  }
  return bad_field(method + " result", "more than " + std::to_string(kMaxPages) + " pages");
}

}  // namespace

Result<std::vector<McpTool>> McpClient::list_tools(McpCallOptions options) {
  {
    // Cleared first: a list_changed that arrives while listing marks the new catalog stale.
    std::lock_guard lock(impl_->mutex);
    impl_->stale = false;
  }
  auto items = all_pages(*this, "tools/list", "tools", options);
  if (!items) return items.error();
  auto tools = parse_mcp_tools(*items);
  if (!tools) return tools.error();
  std::set<std::string> names;
  for (const auto& t : *tools) {
    if (!names.insert(t.name).second) {
      return bad_field("tools/list result", "tool '" + t.name + "' is listed twice");
    }
  }
  std::lock_guard lock(impl_->mutex);
  impl_->catalog = *tools;
  impl_->output_schemas.clear();
  return tools;
}

std::vector<McpTool> McpClient::tools() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->catalog;
}

bool McpClient::tools_stale() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stale;
}

void McpClient::call_tool_async(std::string tool, json arguments, McpCallOptions options,
                                std::function<void(Result<McpToolResult>)> done) {
  // The declared output schema, compiled once per catalog.
  std::shared_ptr<const JsonSchema> output_schema;
  {
    std::lock_guard lock(impl_->mutex);
    if (auto it = impl_->output_schemas.find(tool); it != impl_->output_schemas.end()) {
      output_schema = it->second;
    } else {
      for (const auto& t : impl_->catalog) {
        if (t.name != tool || t.output_schema.is_null()) continue;
        JsonSchemaOptions schema_options;
        schema_options.unknown_keywords = UnknownKeywords::ignore;
        auto compiled = JsonSchema::compile(t.output_schema, schema_options);
        if (compiled) output_schema = std::make_shared<const JsonSchema>(std::move(*compiled));
        impl_->output_schemas[tool] = output_schema;
      }
    }
  }
  json params = {{"name", tool}, {"arguments", arguments.is_null() ? json::object() : arguments}};
  request_async("tools/call", std::move(params), std::move(options),
                [done = std::move(done), output_schema, tool](Result<json> r) {
                  if (!r) return done(r.error());
                  auto parsed = parse_mcp_tool_result(*r);
                  if (parsed && output_schema && !parsed->is_error) {
                    if (parsed->structured_content.is_null()) {
                      return done(Error(ErrorCode::invalid_argument,
                                        "tool '" + tool +
                                            "' declares an outputSchema but returned no "
                                            "structuredContent"));
                    }
                    auto violations = output_schema->validate(parsed->structured_content);
                    if (!violations.empty()) {
                      return done(Error(ErrorCode::invalid_argument,
                                        "tool '" + tool +
                                            "' returned structuredContent that violates its "
                                            "outputSchema: " +
                                            describe(violations)));
                    }
                  }
                  done(std::move(parsed));
                });
}

Result<McpToolResult> McpClient::call_tool(std::string tool, json arguments,
                                           McpCallOptions options) {
  auto promise = std::make_shared<std::promise<Result<McpToolResult>>>();
  auto future = promise->get_future();
  call_tool_async(std::move(tool), std::move(arguments), std::move(options),
                  [promise](Result<McpToolResult> r) { promise->set_value(std::move(r)); });
  return future.get();
}

Result<json> McpClient::list_resources(McpCallOptions options) {
  return all_pages(*this, "resources/list", "resources", options);
}

Result<json> McpClient::read_resource(const std::string& uri, McpCallOptions options) {
  return request("resources/read", {{"uri", uri}}, std::move(options));
}

Result<json> McpClient::list_prompts(McpCallOptions options) {
  return all_pages(*this, "prompts/list", "prompts", options);
}

Result<json> McpClient::get_prompt(const std::string& name, const json& arguments,
                                   McpCallOptions options) {
  json params = {{"name", name}};
  if (!arguments.is_null()) params["arguments"] = arguments;
  return request("prompts/get", std::move(params), std::move(options));
}

Status McpClient::ping(McpCallOptions options) {
  auto r = request("ping", json::object(), std::move(options));
  if (!r) return r.error();
  return {};
}

McpClientStats McpClient::stats() const {
  std::lock_guard lock(impl_->mutex);
  auto out = impl_->counters;
  out.connected = impl_->connected;
  return out;
}

void McpClient::close() {
  impl_->close();
}

}  // namespace rein
