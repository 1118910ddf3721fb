// rein policy check POLICY.json --tool NAME [--args JSON] [--role R]... [--principal ID]
//                              [--label POINTER=LABEL]... [--explain]
// rein policy check POLICY.json --batch FILE.jsonl [--explain]
//
// Prints one decision object per request: {"decision": ..., "rule": ..., "reason": ...}, and
// with --explain an "explain" array: every rule naming the tool, in evaluation order, with why
// it did or did not match. A LABEL is the JSON form of labels.hpp, e.g.
// --label '/to={"trusted": false, "sources": ["tool:web.fetch"]}'; arguments without one are
// trusted and public. A batch line may carry "labels": {"/to": LABEL, ...}.
// Exit 0 whatever the decisions; 2 with a message on stderr for a bad policy or request (in
// batch mode every line is checked first, so nothing is printed for a file with a bad line).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "rein/policy.hpp"

namespace rein::cli {
namespace {

using nlohmann::json;

struct Request {
  std::string tool;
  json args = json::object();
  Principal principal;
  ValueLabels labels;
};

struct Options {
  std::string policy_path;
  std::string tool;
  std::string args_text = "{}";
  std::vector<std::string> roles;
  std::string principal = "cli";
  std::string batch_path;
  std::vector<std::string> labels;  // POINTER=LABEL
  bool explain = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "rein policy check: %s\n", message.c_str());
  return kExitBadInput;
}

Result<Request> parse_request(const json& j) {
  auto bad = [](const std::string& m) { return Error(ErrorCode::invalid_argument, m); };
  if (!j.is_object()) return bad("a request must be a JSON object");
  for (const auto& [key, _] : j.items()) {
    if (key != "tool" && key != "args" && key != "roles" && key != "principal" && key != "labels") {
      return bad("unknown field '" + key + "' (expected tool, args, roles, principal, labels)");
    }
  }
  Request r;
  r.principal.id = "cli";
  auto tool = j.find("tool");
  if (tool == j.end() || !tool->is_string() || tool->get<std::string>().empty()) {
    return bad("field 'tool' must be a non-empty string");
  }
  r.tool = tool->get<std::string>();
  if (auto args = j.find("args"); args != j.end()) {
    if (!args->is_object()) return bad("field 'args' must be an object");
    r.args = *args;
  }
  if (auto roles = j.find("roles"); roles != j.end()) {
    if (!roles->is_array()) return bad("field 'roles' must be an array of strings");
    for (const auto& role : *roles) {
      if (!role.is_string()) return bad("field 'roles' must be an array of strings");
      r.principal.roles.push_back(role.get<std::string>());
    }
  }
  if (auto p = j.find("principal"); p != j.end()) {
    if (!p->is_string()) return bad("field 'principal' must be a string");
    r.principal.id = p->get<std::string>();
  }
  if (auto l = j.find("labels"); l != j.end()) {
    auto labels = ValueLabels::from_json(*l);
    if (!labels) return labels.error();
    r.labels = std::move(*labels);
  }
  return r;
}

// POINTER=LABEL, the label in its JSON form.
Status add_label(ValueLabels& labels, const std::string& flag) {
  const auto equals = flag.find('=');
  if (equals == std::string::npos)
    return Error(ErrorCode::invalid_argument, "--label needs POINTER=LABEL, got '" + flag + "'");
  const std::string pointer = flag.substr(0, equals);
  json text = json::parse(flag.substr(equals + 1), nullptr, /*allow_exceptions=*/false);
  if (text.is_discarded())
    return Error(ErrorCode::invalid_argument, "--label " + pointer + ": the label is not JSON");
  auto parsed = ValueLabels::from_json(json{{pointer, text}});
  if (!parsed) return Error(ErrorCode::invalid_argument, "--label " + parsed.error().message());
  for (const auto& [at, label] : parsed->parts)
    labels.add(at, label);
  return {};
}

void print_decision(const PolicyEngine& engine, const Request& r, bool explain) {
  const Usage no_usage;
  const PolicyDecision d = engine.decide(r.tool, r.args, r.labels, r.principal, no_usage);
  // Keys in the documented order: decision, rule, reason (, explain).
  nlohmann::ordered_json out = {
      {"decision", to_string(d.decision)}, {"rule", d.rule}, {"reason", d.reason}};
  if (explain) out["explain"] = engine.explain(r.tool, r.args, r.labels, r.principal);
  std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

int run(const Options& o) {
  auto engine = PolicyEngine::from_file(o.policy_path);
  if (!engine) return fail(engine.error().message());

  if (!o.batch_path.empty()) {
    std::ifstream in(o.batch_path);
    if (!in) return fail("cannot read batch file '" + o.batch_path + "'");
    std::vector<Request> requests;
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded()) {
        return fail(o.batch_path + ":" + std::to_string(number) + ": not valid JSON");
      }
      auto request = parse_request(parsed);
      if (!request) {
        return fail(o.batch_path + ":" + std::to_string(number) + ": " + request.error().message());
      }
      requests.push_back(std::move(*request));
    }
    for (const auto& r : requests)
      print_decision(*engine, r, o.explain);
    return kExitOk;
  }

  if (o.tool.empty()) return fail("give --tool NAME (or --batch FILE)");
  json args = json::parse(o.args_text, nullptr, /*allow_exceptions=*/false);
  if (args.is_discarded()) return fail("--args is not valid JSON: " + o.args_text);
  if (!args.is_object()) return fail("--args must be a JSON object");
  Request r;
  r.tool = o.tool;
  r.args = std::move(args);
  r.principal = Principal{o.principal, o.roles};
  for (const auto& flag : o.labels) {
    if (auto added = add_label(r.labels, flag); !added) return fail(added.error().message());
  }
  print_decision(*engine, r, o.explain);
  return kExitOk;
}

}  // namespace

Runner add_policy_command(CLI::App& app) {
  auto options = std::make_shared<Options>();
  auto* policy = app.add_subcommand("policy", "Work with policy files");
  policy->require_subcommand(1);
  auto* check =
      policy->add_subcommand("check", "Print the decision a policy makes for a tool call");
  check->add_option("policy", options->policy_path, "Policy JSON file")->required();
  auto* tool = check->add_option("--tool", options->tool, "Tool name, e.g. billing.mrr");
  check->add_option("--args", options->args_text, "Arguments as a JSON object (default {})");
  check->add_option("--role", options->roles, "A role of the principal (repeatable)");
  check->add_option("--principal", options->principal, "Principal id (default cli)");
  auto* label = check->add_option(
      "--label", options->labels,
      "POINTER=LABEL: where an argument came from, e.g. '/to={\"trusted\": false}' (repeatable)");
  check->add_flag("--explain", options->explain,
                  "Also list every rule for the tool and why it did or did not match");
  auto* batch = check->add_option("--batch", options->batch_path,
                                  "JSONL file: one {\"tool\", \"args\", \"roles\"} per line");
  batch->excludes(tool);
  batch->excludes(label);
  return [options] { return run(*options); };
}

}  // namespace rein::cli
