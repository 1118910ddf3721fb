// rein mcp list  [SERVER OPTIONS] -- CMD ARGS...
// rein mcp call TOOL [--args JSON] [SERVER OPTIONS] -- CMD ARGS...
// rein mcp proxy --policy POLICY.json [--audit FILE] [--principal NAME] [--role R]...
//                [--trust-client] [--pin HASH] [SERVER OPTIONS] -- CMD ARGS...
//
// SERVER OPTIONS: --name NAME (the tools' namespace, default "server"), --env KEY=VALUE...,
// --cwd DIR, or --url URL [--bearer TOKEN] for a server over Streamable HTTP instead of a
// command.
//
// list prints {"server": {...}, "catalog_hash": ..., "tools": [...]} (the tools as the server
// describes them, schemas included). call prints the tool's result {"content", "isError",
// "structuredContent"}; exit 1 when it is an error result. Exit 2 for unusable input: a server
// that cannot be started or reached, arguments that are not JSON.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "mcp_proxy.hpp"
#include "rein/mcp_tools.hpp"

namespace rein::cli {
namespace {

using nlohmann::json;

struct Options {
  std::string name = "server";
  std::vector<std::string> command;
  std::vector<std::string> env;
  std::string cwd;
  std::string url;
  std::string bearer;
  std::string tool;
  std::string args_text = "{}";
  std::string policy_path;
  std::string audit_path;
  std::string principal = "mcp-client";
  std::vector<std::string> roles;
  bool trust_client = false;
  std::string pin;
};

int fail(const std::string& verb, const std::string& message) {
  std::fprintf(stderr, "rein mcp %s: %s\n", verb.c_str(), message.c_str());
  return kExitBadInput;
}

Result<McpClientOptions> client_options(const Options& o) {
  McpClientOptions out;
  out.name = o.name;
  if (!o.url.empty()) {
    if (!o.command.empty()) {
      return Error(ErrorCode::invalid_argument,
                   "give either --url or a command after --, not both");
    }
    out.server = McpHttpServer{.url = o.url, .bearer_token = o.bearer};
    return out;
  }
  if (o.command.empty()) {
    return Error(ErrorCode::invalid_argument, "no server: give its command after -- (or --url)");
  }
  McpStdioServer stdio;
  stdio.command = o.command.front();
  stdio.args.assign(o.command.begin() + 1, o.command.end());
  stdio.working_directory = o.cwd;
  for (const auto& kv : o.env) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Error(ErrorCode::invalid_argument, "--env needs KEY=VALUE, got '" + kv + "'");
    }
    stdio.env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  out.server = std::move(stdio);
  return out;
}

void add_server_options(CLI::App* cmd, Options& o) {
  cmd->add_option("--name", o.name, "the server's name: the tools' namespace (default: server)");
  cmd->add_option("--env", o.env, "KEY=VALUE for the server's environment (repeatable)");
  cmd->add_option("--cwd", o.cwd, "the server's working directory");
  cmd->add_option("--url", o.url, "a Streamable HTTP endpoint instead of a command");
  cmd->add_option("--bearer", o.bearer, "a bearer token for --url");
  cmd->add_option("command", o.command, "the server's command and arguments, after --");
}

int list(const Options& o) {
  auto options = client_options(o);
  if (!options) return fail("list", options.error().message());
  auto client = McpClient::connect(*options);
  if (!client) return fail("list", client.error().message());
  auto tools = (*client)->list_tools();
  if (!tools) return fail("list", tools.error().message());
  const auto info = (*client)->server_info();
  json out = {{"server",
               {{"name", info.name},
                {"version", info.version},
                {"protocol_version", info.protocol_version}}},
              {"catalog_hash", mcp_catalog_hash(*tools)},
              {"tools", json::array()}};
  for (const auto& t : *tools)
    out["tools"].push_back(t.to_json());
  std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
  return kExitOk;
}

int call(const Options& o) {
  json args = json::parse(o.args_text, nullptr, false);
  if (args.is_discarded() || !args.is_object()) {
    return fail("call", "--args must be a JSON object, got '" + o.args_text + "'");
  }
  auto options = client_options(o);
  if (!options) return fail("call", options.error().message());
  auto client = McpClient::connect(*options);
  if (!client) return fail("call", client.error().message());
  if (auto tools = (*client)->list_tools(); !tools) return fail("call", tools.error().message());
  auto result = (*client)->call_tool(o.tool, args);
  if (!result) {
    std::fprintf(stderr, "rein mcp call: %s\n", result.error().message().c_str());
    return kExitFailure;
  }
  json out = {{"content", result->content}, {"isError", result->is_error}};
  if (!result->structured_content.is_null()) out["structuredContent"] = result->structured_content;
  std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
  return result->is_error ? kExitFailure : kExitOk;
}

int proxy(const Options& o) {
  auto options = client_options(o);
  if (!options) return fail("proxy", options.error().message());
  ProxyOptions p;
  p.upstream = std::move(*options);
  p.policy_path = o.policy_path;
  p.audit_path = o.audit_path;
  p.principal = Principal{o.principal, o.roles};
  p.trust_client = o.trust_client;
  if (!o.pin.empty()) p.pinned_catalog = o.pin;
  return run_mcp_proxy(p);
}

}  // namespace

Runner add_mcp_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  auto* mcp = app.add_subcommand("mcp", "Use MCP servers: list their tools, call one, guard one");
  mcp->require_subcommand(1);

  auto* list_cmd = mcp->add_subcommand("list", "Print an MCP server's tools and their schemas");
  add_server_options(list_cmd, *o);

  auto* call_cmd = mcp->add_subcommand("call", "Call one tool of an MCP server");
  call_cmd->add_option("tool", o->tool, "the tool's name as the server gives it")->required();
  call_cmd->add_option("--args", o->args_text, "the arguments, a JSON object (default {})");
  add_server_options(call_cmd, *o);

  auto* proxy_cmd = mcp->add_subcommand(
      "proxy", "Serve MCP on stdin/stdout, forwarding to a server under a rein policy");
  proxy_cmd->add_option("--policy", o->policy_path, "the policy (docs/policy.md)")->required();
  proxy_cmd->add_option("--audit", o->audit_path, "append the hash-chained audit here (JSONL)");
  proxy_cmd->add_option("--principal", o->principal, "who the client acts for");
  proxy_cmd->add_option("--role", o->roles, "the principal's roles (repeatable)");
  proxy_cmd->add_flag("--trust-client", o->trust_client,
                      "treat the client's arguments as trusted (default: untrusted)");
  proxy_cmd->add_option("--pin", o->pin, "refuse to start unless the catalog has this hash");
  add_server_options(proxy_cmd, *o);

  return [o, list_cmd, call_cmd] {
    if (list_cmd->parsed()) return list(*o);
    if (call_cmd->parsed()) return call(*o);
    return proxy(*o);
  };
}

}  // namespace rein::cli
