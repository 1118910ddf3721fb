// McpClient's session: requests in flight, what the server sends, timeouts and restarts.
#include "mcp/mcp_session.hpp"

#include <algorithm>
#include <future>
#include <utility>

#include "core/host_call.hpp"
#include "core/log.hpp"
#include "mcp/mcp_json.hpp"
#include "rein/version.hpp"

namespace rein {
namespace {

using nlohmann::json;

constexpr std::size_t kRememberAbandoned = 4096;
constexpr const char* kStateless = "2026-07-28";

std::string excerpt(std::string_view text, std::size_t limit = 120) {
  std::string out;
  for (char c : text.substr(0, limit)) {
    out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  }
  if (text.size() > limit) out += "...";
  return out;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A JSON-RPC error object as an Error with rein's nearest code.
Error rpc_error(const std::string& label, const json& error) {
  const auto code = error.is_object() && error.contains("code") && error["code"].is_number_integer()
                        ? error["code"].get<std::int64_t>()
                        : -32603;
  const auto message =
      error.is_object() && error.contains("message") && error["message"].is_string()
          ? error["message"].get<std::string>()
          : std::string("(no message)");
  ErrorCode rein_code = ErrorCode::internal;
  if (code == -32601) rein_code = ErrorCode::not_found;
  if (code == -32602 || code == -32600 || code == -32700) rein_code = ErrorCode::invalid_argument;
  return Error(rein_code, label + " answered with JSON-RPC error " + std::to_string(code) + ": " +
                              excerpt(message, 2000));
}

bool transport_failure(const Error& e) {
  return e.code() == ErrorCode::unavailable || e.code() == ErrorCode::timeout;
}

}  // namespace

McpClient::Impl::Impl(McpClientOptions opts)
    : options(std::move(opts)),
      label("MCP server '" + options.name + "'"),
      next_backoff(options.restart_backoff),
      breaker(options.circuit_breaker) {}

McpClient::Impl::~Impl() {
  close();
}

void McpClient::Impl::start_watchdog() {
  // It keeps the session alive until close() and is never joined: a completion it runs may
  // close the client (or drop the last McpClient), and close() must not wait for the thread
  // that called it, nor for one that is joining a reader busy with such a completion.
  std::thread([self = shared_from_this()] { self->watchdog_loop(); }).detach();
}

json McpClient::Impl::client_capabilities() const {
  json caps = json::object();
  if (!options.roots.empty()) caps["roots"] = {{"listChanged", false}};
  if (options.on_elicitation) caps["elicitation"] = json::object();
  return caps;
}

json McpClient::Impl::client_info() const {
  return {{"name", options.client_name}, {"version", rein::version()}};
}

Status McpClient::Impl::open_and_initialize() {
  std::shared_ptr<detail::McpTransport> t;
  if (std::holds_alternative<McpStdioServer>(options.server)) {
    t = detail::make_stdio_transport(std::get<McpStdioServer>(options.server), options.name,
                                     options.max_message_bytes);
  } else {
    t = detail::make_http_transport(std::get<McpHttpServer>(options.server), options.name,
                                    options.max_message_bytes);
  }
  std::uint64_t gen;
  {
    std::lock_guard lock(mutex);
    if (closing) return Error(ErrorCode::cancelled, "the client was closed");
    gen = ++generation;
    connected = false;
  }
  std::weak_ptr<Impl> weak = weak_from_this();
  detail::McpTransport::Handlers handlers;
  handlers.on_message = [weak, gen](std::string_view text) {
    auto self = weak.lock();
    if (!self) return;
    // Whatever the message holds, nothing it makes rein's code throw leaves the reader thread.
    try {
      self->on_message(gen, text);
    } catch (const std::exception& e) {
      self->cut_off(gen, std::string("sent a message rein could not read (") + e.what() + ")");
    }
  };
  handlers.on_closed = [weak, gen](Error reason) {
    if (auto self = weak.lock()) self->on_closed(gen, std::move(reason));
  };
  handlers.on_violation = [weak, gen](std::string what) {
    if (auto self = weak.lock()) self->cut_off(gen, what);
  };
  handlers.on_request_failed = [weak, gen](std::int64_t id, Error reason) {
    if (auto self = weak.lock()) self->on_request_failed(gen, id, std::move(reason));
  };
  if (auto started = t->start(std::move(handlers)); !started) return started;
  {
    // Published only once started, so that close() never stops a transport still starting.
    std::lock_guard lock(mutex);
    if (closing || gen != generation) {
      t->stop(Error(ErrorCode::cancelled, "the client was closed"));
      return Error(ErrorCode::cancelled, "the client was closed");
    }
    // A server that exits at once may be gone before it is published: its end was reported
    // already, and nothing would fail the handshake's request.
    if (closed_generation == gen) {
      return Error(ErrorCode::unavailable,
                   down_reason.empty() ? label + " went away" : down_reason);
    }
    transport = t;
  }

  auto ask = [&](const std::string& method, json params) {
    auto promise = std::make_shared<std::promise<Result<json>>>();
    auto future = promise->get_future();
    McpCallOptions call;
    call.timeout = options.initialize_timeout;
    send_request(
        method, std::move(params), std::move(call),
        [promise](Result<json> r) { promise->set_value(std::move(r)); }, true);
    // The watchdog may be the thread waiting here (a restart), so the wait keeps its own time.
    if (future.wait_for(options.initialize_timeout + std::chrono::milliseconds(100)) !=
        std::future_status::ready) {
      return Result<json>(
          Error(ErrorCode::timeout, label + " did not answer " + method + " in time"));
    }
    return future.get();
  };
  auto fail = [&](Error e) -> Status {
    t->stop(e);
    return e;
  };

  const auto& offered = options.protocol_versions;
  McpServerInfo answered;
  // The stateless revision has no handshake: discovery says whether the server speaks it.
  bool stateless_ok = false;
  if (std::find(offered.begin(), offered.end(), kStateless) != offered.end()) {
    auto discovered = ask("server/discover", json::object());
    if (discovered && discovered->is_object() && discovered->contains("supportedVersions") &&
        (*discovered)["supportedVersions"].is_array()) {
      for (const auto& v : (*discovered)["supportedVersions"]) {
        if (v == kStateless) stateless_ok = true;
      }
      if (stateless_ok) {
        answered.protocol_version = kStateless;
        answered.capabilities = detail::object_field(*discovered, "capabilities");
        answered.instructions = detail::string_field(*discovered, "instructions");
      }
    } else if (!discovered && discovered.error().code() == ErrorCode::unavailable) {
      return fail(discovered.error());
    }
  }
  if (!stateless_ok) {
    std::string first;
    for (const auto& v : offered) {
      if (v != kStateless) {
        first = v;
        break;
      }
    }
    auto result = ask("initialize", {{"protocolVersion", first},
                                     {"capabilities", client_capabilities()},
                                     {"clientInfo", client_info()}});
    if (!result) return fail(result.error());
    if (!result->is_object() || !(*result).contains("protocolVersion") ||
        !(*result)["protocolVersion"].is_string()) {
      return fail(Error(ErrorCode::invalid_argument,
                        label + " answered initialize without a protocolVersion string"));
    }
    answered.protocol_version = (*result)["protocolVersion"].get<std::string>();
    if (answered.protocol_version == kStateless ||
        std::find(offered.begin(), offered.end(), answered.protocol_version) == offered.end()) {
      std::string list;
      for (const auto& v : offered)
        list += (list.empty() ? "" : ", ") + v;
      return fail(Error(ErrorCode::invalid_argument,
                        label + " answered protocol revision '" +
                            excerpt(answered.protocol_version, 40) +
                            "', which rein does not speak (offered: " + list + ")"));
    }
    const json server_info = result->value("serverInfo", json::object());
    if (server_info.is_object()) {
      answered.name = detail::string_field(server_info, "name");
      answered.version = detail::string_field(server_info, "version");
      answered.title = detail::string_field(server_info, "title");
    }
    answered.capabilities = detail::object_field(*result, "capabilities");
    answered.instructions = detail::string_field(*result, "instructions");
  }
  t->set_protocol_version(answered.protocol_version);
  {
    std::lock_guard lock(mutex);
    if (gen != generation) return Error(ErrorCode::unavailable, label + " went away");
    info = std::move(answered);
    connected = true;
    ever_connected = true;
    failed_restarts = 0;
    next_backoff = options.restart_backoff;
  }
  if (!stateless_ok) notify("notifications/initialized", json::object());
  return {};
}

void McpClient::Impl::send_request(std::string method, json params, McpCallOptions call,
                                   Completion done, bool during_handshake) {
  auto& env = Env::system();
  std::shared_ptr<detail::McpTransport> t;
  std::int64_t id = 0;
  std::string text;
  bool nudge_watchdog = false;
  {
    std::unique_lock lock(mutex);
    std::optional<Error> refused;
    if (closing) {
      refused = Error(ErrorCode::cancelled, label + ": the client was closed");
    } else if (!during_handshake && !connected) {
      refused = Error(ErrorCode::unavailable,
                      label + " is not connected" +
                          (down_reason.empty() ? std::string() : " (" + down_reason + ")"));
    } else if (!during_handshake && !breaker.allow(env)) {
      refused = Error(ErrorCode::unavailable, label + ": circuit open after repeated failures");
    } else if (!transport) {
      // The server went before the request was made (it exited during the handshake, say).
      refused = Error(ErrorCode::unavailable,
                      down_reason.empty() ? label + " is not connected" : down_reason);
    }
    if (refused) {
      lock.unlock();
      done(std::move(*refused));
      return;
    }
    id = next_id++;
    if (!params.is_object()) params = json::object();
    Pending p;
    p.method = method;
    p.deadline = Clock::now() + call.timeout.value_or(options.request_timeout);
    p.done = std::move(done);
    p.generation = generation;
    if (call.on_progress) {
      p.progress_token = "rein-" + std::to_string(id);
      p.on_progress = std::move(call.on_progress);
      params["_meta"]["progressToken"] = p.progress_token;
    }
    if (info.protocol_version == kStateless) {
      params["_meta"]["io.modelcontextprotocol/protocolVersion"] = kStateless;
      params["_meta"]["io.modelcontextprotocol/clientCapabilities"] = client_capabilities();
      params["_meta"]["io.modelcontextprotocol/clientInfo"] = client_info();
    }
    text = dump({{"jsonrpc", "2.0"},
                 {"id", id},
                 {"method", std::move(method)},
                 {"params", std::move(params)}});
    // The watchdog sleeps until the earliest deadline it knew of; only an earlier one wakes it
    // (the common case, a call with the default timeout, costs it nothing).
    nudge_watchdog = p.deadline < watchdog_wakes_at;
    pending.emplace(id, std::move(p));
    t = transport;
  }
  if (nudge_watchdog) wake.notify_all();
  if (call.cancellation.can_be_cancelled()) {
    std::weak_ptr<Impl> weak = weak_from_this();
    auto registration = call.cancellation.on_cancel([weak, id] {
      if (auto self = weak.lock()) {
        self->finish(id, Error(ErrorCode::cancelled, self->label + ": the call was cancelled"),
                     true);
      }
    });
    std::unique_lock lock(mutex);
    auto it = pending.find(id);
    if (it == pending.end()) return;  // cancelled already: the server never hears of it
    it->second.cancel_registration = std::move(registration);
  }
  if (auto sent = t->send(std::move(text), id); !sent) {
    std::string why = label + ": " + sent.error().message();
    {
      // A connection still current will report how it ended (an exit status says more than a
      // broken pipe) and fail the call then; one already gone has said why.
      std::lock_guard lock(mutex);
      if (transport == t) return;
      if (!down_reason.empty()) why = down_reason;
    }
    finish(id, Error(ErrorCode::unavailable, why));
    return;
  }
  bool abandoned_while_sending = false;
  {
    std::lock_guard lock(mutex);
    if (auto it = pending.find(id); it != pending.end()) {
      it->second.sent = true;
    } else {
      abandoned_while_sending = abandoned.count(id) > 0;
    }
  }
  // Cancelled or timed out while being written: the server has it now, so it is told.
  if (abandoned_while_sending) {
    (void)t->send(dump({{"jsonrpc", "2.0"},
                        {"method", "notifications/cancelled"},
                        {"params", {{"requestId", id}}}}),
                  std::nullopt);
  }
}

void McpClient::Impl::finish(std::int64_t id, Result<json> outcome, bool abandon) {
  Pending p;
  std::shared_ptr<detail::McpTransport> t;
  {
    std::lock_guard lock(mutex);
    auto it = pending.find(id);
    if (it == pending.end()) return;
    p = std::move(it->second);
    pending.erase(it);
    if (abandon) {
      abandoned.insert(id);
      abandoned_order.push_back(id);
      if (abandoned_order.size() > kRememberAbandoned) {
        abandoned.erase(abandoned_order.front());
        abandoned_order.pop_front();
      }
      if (p.generation == generation) t = transport;
    }
  }
  if (t && abandon) t->abandon(id);
  if (t && p.sent && p.method != "initialize") {
    json params = {{"requestId", id}};
    if (!outcome) params["reason"] = outcome.error().message();
    (void)t->send(
        dump({{"jsonrpc", "2.0"}, {"method", "notifications/cancelled"}, {"params", params}}),
        std::nullopt);
  }
  if (outcome || !transport_failure(outcome.error())) {
    std::lock_guard lock(mutex);
    breaker.record_success();
  } else {
    std::lock_guard lock(mutex);
    breaker.record_failure(Env::system());
  }
  p.cancel_registration = {};
  if (p.done) {
    (void)detail::call_host("an MCP completion", [&] { p.done(std::move(outcome)); });
  }
}

void McpClient::Impl::on_message(std::uint64_t gen, std::string_view text) {
  json message = json::parse(text, nullptr, false);
  if (message.is_discarded()) return cut_off(gen, "sent a line that is not JSON: " + excerpt(text));
  if (message.is_array()) {
    return cut_off(gen, "sent a JSON-RPC batch, which revisions since 2025-06-18 do not allow");
  }
  if (!message.is_object() || message.value("jsonrpc", json()) != "2.0") {
    return cut_off(gen, "sent a message that is not JSON-RPC 2.0: " + excerpt(text));
  }
  if (message.contains("method")) {
    if (!message["method"].is_string()) return cut_off(gen, "sent a method that is not a string");
    if (message.contains("id")) return handle_server_request(gen, message);
    return handle_notification(message);
  }
  if (!message.contains("id")) return cut_off(gen, "sent a message with neither method nor id");
  const json& id_value = message["id"];
  if (id_value.is_null()) {
    // The server could not read one of ours (a parse error): it says so, nothing to match.
    detail::logger()->warn("{} reported an error with no id: {}", label, excerpt(text, 400));
    return;
  }
  if (!id_value.is_number_integer()) {
    return cut_off(gen, "answered id " + excerpt(dump(id_value), 40) + ", which rein never sent");
  }
  const auto id = id_value.get<std::int64_t>();
  bool in_flight;
  {
    std::lock_guard lock(mutex);
    auto it = pending.find(id);
    if (it == pending.end() && abandoned.count(id)) return;  // an answer after its call ended
    if (it != pending.end() && it->second.generation != gen) return;
    in_flight = it != pending.end();
  }
  if (!in_flight) {
    return cut_off(gen, "answered id " + std::to_string(id) + ", which is not a request in flight");
  }
  if (message.contains("error")) return finish(id, rpc_error(label, message["error"]));
  if (message.contains("result")) return finish(id, std::move(message["result"]));
  cut_off(gen, "answered id " + std::to_string(id) + " with neither result nor error");
}

void McpClient::Impl::cut_off(std::uint64_t gen, const std::string& what) {
  std::shared_ptr<detail::McpTransport> t;
  {
    std::lock_guard lock(mutex);
    if (gen != generation || !transport) return;
    ++counters.cut_offs;
    t = transport;
  }
  detail::logger()->warn("{} {}; cut off", label, what);
  t->stop(Error(ErrorCode::unavailable, label + " " + what + "; cut off"));
}

void McpClient::Impl::on_closed(std::uint64_t gen, Error reason) {
  std::vector<std::int64_t> failed;
  bool log_it;
  {
    std::lock_guard lock(mutex);
    if (gen != generation) return;
    closed_generation = gen;
    log_it = !closing;
    connected = false;
    down_reason = reason.message();
    if (transport) retired.push_back(std::move(transport));
    transport = nullptr;
    for (const auto& [id, p] : pending) {
      if (p.generation == gen) failed.push_back(id);
    }
    if (!closing && ever_connected && options.restart && failed_restarts < options.max_restarts) {
      restart_at = Clock::now() + next_backoff;
      next_backoff = std::min(next_backoff * 2, options.max_restart_backoff);
    }
  }
  wake.notify_all();
  if (log_it) detail::logger()->warn("{}", reason.message());
  for (auto id : failed)
    finish(id, reason);
}

void McpClient::Impl::on_request_failed(std::uint64_t gen, std::int64_t id, Error reason) {
  {
    std::lock_guard lock(mutex);
    if (gen != generation) return;
  }
  finish(id, Error(reason.code(), label + ": " + reason.message()));
}

void McpClient::Impl::reply(std::uint64_t gen, const json& id, json body, bool is_error) {
  std::shared_ptr<detail::McpTransport> t;
  {
    std::lock_guard lock(mutex);
    if (gen != generation || !transport) return;
    t = transport;
  }
  json message = {{"jsonrpc", "2.0"}, {"id", id}};
  message[is_error ? "error" : "result"] = std::move(body);
  (void)t->send(dump(message), std::nullopt);
}

void McpClient::Impl::notify(const std::string& method, json params) {
  std::shared_ptr<detail::McpTransport> t;
  {
    std::lock_guard lock(mutex);
    t = transport;
  }
  if (t)
    (void)t->send(dump({{"jsonrpc", "2.0"}, {"method", method}, {"params", params}}), std::nullopt);
}

void McpClient::Impl::handle_server_request(std::uint64_t gen, const json& message) {
  const auto method = message["method"].get<std::string>();
  const json& id = message["id"];
  if (method == "ping") return reply(gen, id, json::object(), false);
  if (method == "roots/list" && !options.roots.empty()) {
    json roots = json::array();
    for (const auto& r : options.roots) {
      json root = {{"uri", r.uri}};
      if (!r.name.empty()) root["name"] = r.name;
      roots.push_back(std::move(root));
    }
    return reply(gen, id, {{"roots", std::move(roots)}}, false);
  }
  if (method == "elicitation/create" && options.on_elicitation) {
    const json params = message.value("params", json::object());
    // The person may take a while: answer from a thread of its own, not the reader's.
    std::thread([self = shared_from_this(), gen, id, params] {
      const auto text = detail::string_field(params, "message");
      const json schema =
          params.is_object() ? params.value("requestedSchema", json::object()) : json::object();
      auto answer = detail::call_host("the elicitation handler",
                                      [&] { return self->options.on_elicitation(text, schema); });
      if (answer) {
        json result = {{"action", answer->action}};
        if (answer->action == "accept") result["content"] = answer->content;
        self->reply(gen, id, std::move(result), false);
      } else {
        self->reply(gen, id, {{"code", -32603}, {"message", answer.error().message()}}, true);
      }
    }).detach();
    return;
  }
  reply(gen, id, {{"code", -32601}, {"message", "Method not found: " + excerpt(method, 80)}}, true);
}

void McpClient::Impl::handle_notification(const json& message) {
  const auto method = message["method"].get<std::string>();
  const json params = message.value("params", json::object());
  if (method == "notifications/progress" && params.is_object()) {
    const json token = params.value("progressToken", json());
    std::function<void(const McpProgress&)> callback;
    {
      std::lock_guard lock(mutex);
      for (const auto& [id, p] : pending) {
        if (!p.progress_token.empty() && token == p.progress_token) callback = p.on_progress;
      }
    }
    if (!callback) return;
    McpProgress progress;
    if (params.contains("progress") && params["progress"].is_number()) {
      progress.progress = params["progress"].get<double>();
    }
    if (params.contains("total") && params["total"].is_number()) {
      progress.total = params["total"].get<double>();
    }
    if (params.contains("message") && params["message"].is_string()) {
      progress.message = params["message"].get<std::string>();
    }
    (void)detail::call_host("an MCP progress callback", [&] { callback(progress); });
  } else if (method == "notifications/tools/list_changed") {
    {
      std::lock_guard lock(mutex);
      stale = true;
      ++counters.list_changed;
    }
    if (options.on_tools_changed) {
      (void)detail::call_host("on_tools_changed", [&] { options.on_tools_changed(); });
    }
  } else if (method == "notifications/message" && params.is_object()) {
    const auto level = detail::string_field(params, "level", "info");
    const json data = params.value("data", json());
    const auto text = data.is_string() ? data.get<std::string>() : dump(data);
    const auto log_level = (level == "debug")                       ? LogLevel::debug
                           : (level == "info" || level == "notice") ? LogLevel::info
                           : (level == "warning")                   ? LogLevel::warn
                                                                    : LogLevel::error;
    detail::logger()->log(log_level, "{} log: {}", label, excerpt(text, 4000));
  }
}

void McpClient::Impl::watchdog_loop() {
  std::unique_lock lock(mutex);
  while (!closing) {
    auto next = Clock::time_point::max();
    for (const auto& [id, p] : pending)
      next = std::min(next, p.deadline);
    if (restart_at) next = std::min(next, *restart_at);
    if (retired.empty()) {
      watchdog_wakes_at = next;
      if (next == Clock::time_point::max()) {
        wake.wait(lock);
      } else {
        wake.wait_until(lock, next);
      }
      watchdog_wakes_at = Clock::time_point::min();  // awake: it will look at everything
    }
    if (closing) break;
    auto done_with = std::move(retired);
    retired.clear();
    const auto now = Clock::now();
    std::vector<std::pair<std::int64_t, std::string>> expired;
    for (const auto& [id, p] : pending) {
      if (p.deadline <= now) expired.emplace_back(id, p.method);
    }
    const bool restart_due = restart_at && *restart_at <= now;
    if (restart_due) restart_at.reset();
    lock.unlock();
    done_with.clear();  // joins the reader threads of stopped connections
    for (const auto& [id, method] : expired) {
      finish(id, Error(ErrorCode::timeout, label + " did not answer " + method + " in time"), true);
    }
    if (restart_due) {
      auto restarted = open_and_initialize();
      std::lock_guard relock(mutex);
      if (restarted) {
        ++counters.restarts;
        stale = !catalog.empty();  // a new process may be another version: list it again
      } else if (!closing) {
        down_reason = restarted.error().message();
        if (++failed_restarts < options.max_restarts) {
          restart_at = Clock::now() + next_backoff;
          next_backoff = std::min(next_backoff * 2, options.max_restart_backoff);
        }
      }
    }
    lock.lock();
  }
}

void McpClient::Impl::close() {
  std::shared_ptr<detail::McpTransport> t;
  std::vector<std::int64_t> failed;
  std::vector<std::shared_ptr<detail::McpTransport>> done_with;
  {
    std::lock_guard lock(mutex);
    if (closing && !transport && pending.empty()) return;
    closing = true;
    connected = false;
    ++generation;
    t = std::move(transport);
    transport = nullptr;
    for (const auto& [id, p] : pending)
      failed.push_back(id);
    done_with = std::move(retired);
    retired.clear();
  }
  wake.notify_all();
  if (t) t->stop(Error(ErrorCode::cancelled, label + ": the client was closed"));
  for (auto id : failed) {
    finish(id, Error(ErrorCode::cancelled, label + ": the client was closed"));
  }
}

}  // namespace rein
