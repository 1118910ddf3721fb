// `rein mcp proxy`: an MCP server to its client, an MCP client to the real server, and a rein
// policy between them. The client's messages are read on the main thread; each tools/call is
// decided there and, when it may go on, handled on a thread of its own (an approval may wait
// for a person, and the reader must keep reading to hear the answer). Every decision and call
// goes into a hash-chained audit.
#include "mcp_proxy.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "commands.hpp"
#include "rein/audit.hpp"
#include "rein/json_schema.hpp"
#include "rein/mcp_tools.hpp"
#include "rein/policy.hpp"
#include "rein/version.hpp"

namespace rein::cli {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxClientMessage = 8u << 20;
constexpr auto kApprovalWait = std::chrono::minutes(10);
constexpr int kPolicyDenied = -32001;     // a rein policy refused the call
constexpr int kApprovalRefused = -32002;  // the call needed approval and did not get it

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// object[key] when it is a string, else "" (what a peer sends is not trusted to be typed).
std::string string_field(const json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int code_for(const Error& e) {
  if (e.code() == ErrorCode::invalid_argument) return -32602;
  if (e.code() == ErrorCode::not_found) return -32601;
  return -32603;
}

class Proxy {
 public:
  Proxy(const ProxyOptions& options, PolicyEngine policy, std::shared_ptr<JsonlAuditSink> audit)
      : options_(options), policy_(std::move(policy)), audit_(std::move(audit)) {
    audit_run_ =
        "mcp-proxy:" + options.upstream.name + ":" + std::to_string(Env::system().unix_millis());
  }

  int run() {
    auto upstream_options = options_.upstream;
    upstream_options.on_tools_changed = [this] {
      write({{"jsonrpc", "2.0"}, {"method", "notifications/tools/list_changed"}});
    };
    auto client = McpClient::connect(upstream_options);
    if (!client) {
      std::fprintf(stderr, "rein mcp proxy: %s\n", client.error().message().c_str());
      return kExitBadInput;
    }
    upstream_ = *client;
    if (auto listed = refresh_catalog(); !listed) {
      std::fprintf(stderr, "rein mcp proxy: %s\n", listed.error().message().c_str());
      return kExitBadInput;
    }
    const auto info = upstream_->server_info();
    record("run",
           {{"proxy", "rein mcp proxy"},
            {"server", options_.upstream.name},
            {"server_info", {{"name", info.name}, {"version", info.version}}},
            {"catalog_hash", catalog_hash_},
            {"principal", {{"id", options_.principal.id}, {"roles", options_.principal.roles}}}});

    for (std::string line; std::getline(std::cin, line);) {
      if (line.empty() || line == "\r") continue;
      if (line.size() > kMaxClientMessage) {
        write_error(json(), -32600, "message over the proxy's limit of 8 MiB");
        continue;
      }
      json message = json::parse(line, nullptr, false);
      if (message.is_discarded()) {
        write_error(json(), -32700, "Parse error: the line is not JSON");
        continue;
      }
      // A field of an unexpected type makes nlohmann's json throw: that is the client's error,
      // answered as such, never the end of the proxy.
      try {
        handle(message);
      } catch (const std::exception& e) {
        write_error(message.is_object() && message.contains("id") ? message["id"] : json(), -32600,
                    std::string("Invalid Request: ") + e.what());
      }
    }
    // The client is gone: approvals still waiting are refused; calls in flight finish (their
    // answers have nowhere to go, but their audit entries do); then the server is closed.
    {
      std::lock_guard lock(mutex_);
      client_gone_ = true;
      for (auto& [key, waiter] : awaiting_) {
        waiter->set_value({{"error", {{"message", "the client closed the connection"}}}});
      }
      awaiting_.clear();
    }
    std::unique_lock lock(calls_mutex_);
    calls_done_.wait(lock, [&] { return calls_in_flight_ == 0; });
    upstream_->close();
    return kExitOk;
  }

 private:
  Status refresh_catalog() {
    auto tools = upstream_->list_tools();
    if (!tools) return tools.error();
    const auto hash = mcp_catalog_hash(*tools);
    if (options_.pinned_catalog && *options_.pinned_catalog != hash) {
      Error refused(ErrorCode::permission_denied,
                    "the catalog of MCP server '" + options_.upstream.name +
                        "' changed: its hash is " + hash + ", the pinned one " +
                        *options_.pinned_catalog);
      std::lock_guard lock(mutex_);
      catalog_refused_ = refused.message();  // for good: the server is no longer the one pinned
      return refused;
    }
    std::map<std::string, std::shared_ptr<JsonSchema>> schemas;
    JsonSchemaOptions schema_options;
    schema_options.unknown_keywords = UnknownKeywords::ignore;
    for (const auto& t : *tools) {
      auto compiled = JsonSchema::compile(t.input_schema, schema_options);
      if (compiled) schemas[t.name] = std::make_shared<JsonSchema>(std::move(*compiled));
    }
    std::lock_guard lock(mutex_);
    catalog_ = *tools;
    catalog_hash_ = hash;
    input_schemas_ = std::move(schemas);
    return {};
  }

  void handle(const json& m) {
    if (!m.is_object() || m.value("jsonrpc", json()) != "2.0" || !m.contains("method") ||
        !m["method"].is_string()) {
      if (m.is_object() && !m.contains("method") && m.contains("id")) return answer_from_client(m);
      write_error(m.is_object() && m.contains("id") ? m["id"] : json(), -32600,
                  "Invalid Request: not a JSON-RPC 2.0 request");
      return;
    }
    const auto method = m["method"].get<std::string>();
    const json params = m.value("params", json::object());
    if (!m.contains("id")) {
      if (method == "notifications/cancelled" && params.is_object())
        cancel(params.value("requestId", json()));
      return;
    }
    const json id = m["id"];
    if (method == "initialize") return initialize(id, params);
    if (method == "ping") return write_result(id, json::object());
    if (method == "tools/list") return list_tools(id);
    if (method == "tools/call") return call_tool(id, params);
    write_error(id, -32601,
                "Method not found: rein mcp proxy forwards tools only ('" + method + "')");
  }

  void initialize(const json& id, const json& params) {
    const auto requested = string_field(params, "protocolVersion");
    const std::string version =
        (requested == "2025-06-18" || requested == "2025-11-25") ? requested : "2025-11-25";
    {
      std::lock_guard lock(mutex_);
      client_can_elicit_ = params.is_object() && params.contains("capabilities") &&
                           params["capabilities"].is_object() &&
                           params["capabilities"].contains("elicitation");
    }
    const auto info = upstream_->server_info();
    write_result(id,
                 {{"protocolVersion", version},
                  {"capabilities", {{"tools", {{"listChanged", true}}}}},
                  {"serverInfo",
                   {{"name", "rein-mcp-proxy"},
                    {"version", rein::version()},
                    {"title", "rein guarding " + options_.upstream.name + " (" + info.name + ")"}}},
                  {"instructions",
                   "Every tool call passes rein's policy; a refused call is an error that "
                   "names the rule."}});
  }

  void list_tools(const json& id) {
    {
      std::lock_guard lock(mutex_);
      if (!catalog_refused_.empty()) return write_error(id, -32603, catalog_refused_);
    }
    if (upstream_->tools_stale()) {
      if (auto refreshed = refresh_catalog(); !refreshed) {
        return write_error(id, -32603, refreshed.error().message());
      }
    }
    json tools = json::array();
    {
      std::lock_guard lock(mutex_);
      for (const auto& t : catalog_)
        tools.push_back(t.to_json());
    }
    write_result(id, {{"tools", std::move(tools)}});
  }

  void call_tool(const json& id, const json& params) {
    if (!params.is_object() || !params.contains("name") || !params["name"].is_string()) {
      return write_error(id, -32602, "tools/call needs params.name, a string");
    }
    const auto tool = params["name"].get<std::string>();
    const json args = params.value("arguments", json::object());
    if (!args.is_object())
      return write_error(id, -32602, "tools/call: arguments must be an object");
    const auto rein_name = mcp_tool_name(options_.upstream.name, tool);

    {
      std::lock_guard lock(mutex_);
      if (!catalog_refused_.empty()) return write_error(id, -32603, catalog_refused_);
    }
    if (upstream_->tools_stale()) {
      // The server said its tools changed (or was restarted): list them again, and check the
      // pin again, before anything is forwarded.
      if (auto refreshed = refresh_catalog(); !refreshed) {
        record("decision", {{"tool", rein_name}, {"error", refreshed.error().message()}});
        return write_error(id, -32603, refreshed.error().message());
      }
    }
    std::shared_ptr<JsonSchema> schema;
    {
      std::lock_guard lock(mutex_);
      if (auto it = input_schemas_.find(tool); it != input_schemas_.end()) schema = it->second;
    }
    if (!schema) return write_error(id, -32602, "Unknown tool: " + tool);
    if (auto violations = schema->validate(args); !violations.empty()) {
      return write_error(id, -32602, "Invalid arguments for " + tool + ": " + describe(violations));
    }

    ValueLabels labels;
    if (!options_.trust_client) labels.add("", Label::untrusted("mcp:client"));
    PolicyDecision decision;
    {
      std::lock_guard lock(mutex_);
      usage_.now_millis = Env::system().unix_millis();
      decision = policy_.decide(rein_name, args, labels, options_.principal, usage_);
      if (decision.decision != Decision::deny) {
        usage_.tool_calls++;
        usage_.record_call(rein_name, usage_.now_millis, policy_.longest_rate_window());
      }
    }
    if (decision.decision == Decision::deny) {
      record("decision", {{"tool", rein_name}, {"args", args}, {"decision", decision.to_json()}});
      return write_error(
          id, kPolicyDenied,
          "rein policy denied " + rein_name + " (rule '" + decision.rule + "'): " + decision.reason,
          {{"rule", decision.rule}, {"reason", decision.reason}});
    }
    auto source = std::make_shared<CancellationSource>();
    {
      std::lock_guard lock(calls_mutex_);
      ++calls_in_flight_;
      cancels_[dump(id)] = source;
    }
    const json progress_token = params.contains("_meta") && params["_meta"].is_object()
                                    ? params["_meta"].value("progressToken", json())
                                    : json();
    std::thread([this, id, tool, rein_name, args, decision, source, progress_token] {
      forward(id, tool, rein_name, args, decision, *source, progress_token);
      std::lock_guard lock(calls_mutex_);
      cancels_.erase(dump(id));
      if (--calls_in_flight_ == 0) calls_done_.notify_all();
    }).detach();
  }

  // On a thread of the call's own: the approval, if the policy wants one, then the call.
  void forward(const json& id, const std::string& tool, const std::string& rein_name,
               const json& args, const PolicyDecision& decision, CancellationSource& cancel,
               const json& progress_token) {
    if (decision.decision == Decision::require_approval) {
      auto approved = ask_for_approval(rein_name, args, decision);
      record("approval", {{"tool", rein_name},
                          {"rule", decision.rule},
                          {"outcome", approved ? "approved" : approved.error().message()}});
      if (!approved) {
        return write_error(id, kApprovalRefused,
                           "rule '" + decision.rule + "' requires approval for " + rein_name +
                               ": " + approved.error().message(),
                           {{"rule", decision.rule}, {"reason", decision.reason}});
      }
    }
    McpCallOptions call;
    call.cancellation = cancel.token();
    if (!progress_token.is_null()) {
      call.on_progress = [this, progress_token](const McpProgress& p) {
        json params = {{"progressToken", progress_token}, {"progress", p.progress}};
        if (p.total) params["total"] = *p.total;
        if (!p.message.empty()) params["message"] = p.message;
        write({{"jsonrpc", "2.0"}, {"method", "notifications/progress"}, {"params", params}});
      };
    }
    auto result = upstream_->call_tool(tool, args, call);
    // The client cancelled it: the call is audited, but a cancelled request gets no answer.
    const bool answer = !cancel.cancelled();
    const auto info = upstream_->server_info();
    json entry = {{"tool", rein_name},
                  {"args", args},
                  {"decision", decision.to_json()},
                  {"server", {{"name", info.name}, {"version", info.version}}}};
    if (!result) {
      entry["error"] = result.error().message();
      record("tool_call", entry);
      if (answer) write_error(id, code_for(result.error()), result.error().message());
      return;
    }
    json body = {{"content", result->content}, {"isError", result->is_error}};
    if (!result->structured_content.is_null())
      body["structuredContent"] = result->structured_content;
    entry["result"] = body;
    record("tool_call", entry);
    if (answer) write_result(id, std::move(body));
  }

  // Through MCP elicitation when the client supports it; otherwise refused with the reason.
  Status ask_for_approval(const std::string& rein_name, const json& args,
                          const PolicyDecision& decision) {
    bool can_elicit;
    {
      std::lock_guard lock(mutex_);
      can_elicit = client_can_elicit_;
    }
    if (!can_elicit) {
      return Error(ErrorCode::permission_denied,
                   "the client cannot be asked (it did not declare the elicitation capability)");
    }
    const auto request_id = "rein-approval-" + std::to_string(next_request_++);
    auto waiter = std::make_shared<std::promise<json>>();
    auto answer = waiter->get_future();
    {
      std::lock_guard lock(mutex_);
      if (client_gone_) return Error(ErrorCode::cancelled, "the client closed the connection");
      awaiting_[request_id] = waiter;
    }
    write({{"jsonrpc", "2.0"},
           {"id", request_id},
           {"method", "elicitation/create"},
           {"params",
            {{"message", "Allow " + rein_name + " with " + dump(args).substr(0, 2000) + "? " +
                             decision.reason},
             {"requestedSchema",
              {{"type", "object"},
               {"properties", {{"approve", {{"type", "boolean"}, {"title", "Approve"}}}}},
               {"required", {"approve"}}}}}}});
    if (answer.wait_for(kApprovalWait) != std::future_status::ready) {
      std::lock_guard lock(mutex_);
      awaiting_.erase(request_id);
      return Error(ErrorCode::timeout, "nobody answered within 10 minutes");
    }
    const json response = answer.get();
    if (response.contains("error")) {
      return Error(ErrorCode::permission_denied,
                   "the client could not ask: " + dump(response["error"]).substr(0, 300));
    }
    const json result = response.value("result", json::object());
    if (string_field(result, "action") == "accept" && result.contains("content") &&
        result["content"].is_object() && result["content"].contains("approve") &&
        result["content"]["approve"] == true) {
      return {};
    }
    return Error(ErrorCode::permission_denied, "the person did not approve");
  }

  void answer_from_client(const json& m) {
    const std::string key = m["id"].is_string() ? m["id"].get<std::string>() : dump(m["id"]);
    std::shared_ptr<std::promise<json>> waiter;
    {
      std::lock_guard lock(mutex_);
      auto it = awaiting_.find(key);
      if (it == awaiting_.end()) return;  // nothing asked under that id: ignored
      waiter = it->second;
      awaiting_.erase(it);
    }
    waiter->set_value(m);
  }

  void cancel(const json& request_id) {
    std::lock_guard lock(calls_mutex_);
    if (auto it = cancels_.find(dump(request_id)); it != cancels_.end()) it->second->cancel();
  }

  void record(const std::string& kind, const json& payload) {
    if (!audit_) return;
    AuditEntry entry;
    {
      std::lock_guard lock(audit_mutex_);
      entry = make_audit_entry(audit_run_, audit_seq_++, audit_head_, 0, kind, payload,
                               Env::system().unix_millis());
      audit_head_ = entry.hash;
      if (auto written = audit_->write({&entry, 1}); !written) {
        std::fprintf(stderr, "rein mcp proxy: cannot write the audit: %s\n",
                     written.error().message().c_str());
      }
    }
  }

  void write(const json& message) {
    const auto text = dump(message);
    std::lock_guard lock(out_mutex_);
    std::cout << text << '\n' << std::flush;
  }
  void write_result(const json& id, json result) {
    write({{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
  }
  void write_error(const json& id, int code, const std::string& message, json data = nullptr) {
    json error = {{"code", code}, {"message", message}};
    if (!data.is_null()) error["data"] = std::move(data);
    write({{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}});
  }

  const ProxyOptions& options_;
  PolicyEngine policy_;
  std::shared_ptr<JsonlAuditSink> audit_;
  std::shared_ptr<McpClient> upstream_;

  std::mutex mutex_;  // catalog, usage, elicitation
  std::vector<McpTool> catalog_;
  std::string catalog_hash_;
  std::map<std::string, std::shared_ptr<JsonSchema>> input_schemas_;
  Usage usage_;
  bool client_can_elicit_ = false;
  bool client_gone_ = false;
  std::string catalog_refused_;  // set when the catalog stopped matching the pin
  std::atomic<std::uint64_t> next_request_{1};
  std::map<std::string, std::shared_ptr<std::promise<json>>> awaiting_;

  std::mutex calls_mutex_;
  std::condition_variable calls_done_;
  int calls_in_flight_ = 0;
  std::map<std::string, std::shared_ptr<CancellationSource>> cancels_;

  std::mutex audit_mutex_;
  std::string audit_run_;
  std::int64_t audit_seq_ = 0;
  std::string audit_head_;

  std::mutex out_mutex_;
};

}  // namespace

int run_mcp_proxy(const ProxyOptions& options) {
  // A client that goes away while an answer is being written must not end the proxy (and the
  // audit of the calls still in flight with it).
  std::signal(SIGPIPE, SIG_IGN);
  auto policy = PolicyEngine::from_file(options.policy_path);
  if (!policy) {
    std::fprintf(stderr, "rein mcp proxy: %s\n", policy.error().message().c_str());
    return kExitBadInput;
  }
  std::shared_ptr<JsonlAuditSink> audit;
  if (!options.audit_path.empty()) {
    auto opened = JsonlAuditSink::open(options.audit_path);
    if (!opened) {
      std::fprintf(stderr, "rein mcp proxy: %s\n", opened.error().message().c_str());
      return kExitBadInput;
    }
    audit = *opened;
  }
  Proxy proxy(options, std::move(*policy), std::move(audit));
  return proxy.run();
}

}  // namespace rein::cli
