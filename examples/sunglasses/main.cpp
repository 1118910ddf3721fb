// sunglasses: the plan-as-code customer-service agent of a sunglasses store.
//
//   sunglasses "Do you have any round sunglasses in stock that are under $100?"
//   sunglasses --json "Return 2 Aviator sunglasses I bought last week."
//   sunglasses --plan my_plan.sql "..."     run a given plan (replay, or plans from elsewhere)
//   sunglasses --llm-url http://localhost:11434/v1 --model llama3.1 "..."   ask a real model
//   sunglasses                              interactive prompt
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "agent.hpp"
#include "model_flags.hpp"
#include "store.hpp"

namespace {

using nlohmann::json;

std::string cell(const json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

void print_human(const std::string& request, const sunglasses::Answer& a) {
  std::cout << "Request: " << request << "\n\nPlan:\n" << a.plan << "\n";
  if (!a.steps.empty()) {
    std::cout << "Steps run:\n";
    for (const auto& s : a.steps) {
      std::string comment = s["comment"].get<std::string>();
      if (const auto nl = comment.find('\n'); nl != std::string::npos)
        comment = comment.substr(0, nl) + " …";
      std::cout << "  [" << s["number"].get<int>() << "] " << comment << "  → " << s["rows"].size()
                << " rows";
      if (s["changes"].get<std::int64_t>() > 0)
        std::cout << ", " << s["changes"].get<std::int64_t>() << " changed";
      std::cout << "\n";
    }
    std::cout << "\n";
  }
  if (!a.changes.empty()) {
    std::cout << "Changes (" << (a.committed ? "committed" : "rolled back") << "):\n";
    for (const auto& c : a.changes) {
      const json& row = c["after"].is_null() ? c["before"] : c["after"];
      std::string key = "?";
      for (const auto& [name, value] : row.items()) {
        if (name.size() > 3 && name.compare(name.size() - 3, 3, "_id") == 0) {
          key = cell(value);
          break;
        }
      }
      std::cout << "  " << c["table"].get<std::string>() << " " << key << " ("
                << c["op"].get<std::string>() << ")";
      if (c["op"] == "update") {
        for (const auto& col : c["changed_columns"]) {
          const std::string name = col.get<std::string>();
          std::cout << "  " << name << ": " << cell(c["before"][name]) << " → "
                    << cell(c["after"][name]);
        }
      } else {
        std::cout << "  " << row.dump();
      }
      std::cout << "\n";
    }
    std::cout << "\n";
  } else {
    std::cout << "Changes: none\n\n";
  }
  if (!a.error.empty()) std::cout << "REJECTED: " << a.error << "\n";
  std::cout << "STATUS: " << (a.status.empty() ? "(none)" : a.status) << "\n";
  std::cout << "answer_text: " << a.answer_text << "\n";
}

int answer(const std::string& request, const sunglasses::AgentOptions& options, bool as_json,
           const std::optional<rein::LlmGateway>& gateway) {
  auto a = sunglasses::answer_request(request, options);
  if (!a) {
    std::cerr << "sunglasses: " << a.error().to_string() << "\n";
    return 1;
  }
  if (as_json) {
    json out = a->to_json();
    if (gateway) out["llm_usage"] = gateway->usage_of_run(a->run_id).to_json();
    std::cout << out.dump(2) << "\n";
  } else {
    print_human(request, *a);
    if (gateway)
      std::cout << "Model usage: " << gateway->usage_of_run(a->run_id).to_json().dump() << "\n";
  }
  return a->error.empty() ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "The sunglasses store's customer-service agent: plans in SQL, runs them in rein's "
      "SqlSandbox, "
      "verifies the change set, then commits."};
  std::string request;
  std::string db = "out/sunglasses/store.db";
  std::string plan_file;
  std::string audit_dir = "out/sunglasses/runs";
  bool reseed = false;
  bool as_json = false;
  app.add_option("request", request, "The customer's request (none: an interactive prompt)");
  app.add_option("--db", db, "The store's SQLite database (created and seeded when missing)")
      ->capture_default_str();
  app.add_flag("--reseed", reseed, "Restore the seed inventory and the opening balance first");
  app.add_flag("--json", as_json,
               "Print one JSON object: status, answer_text, plan, changes, committed (and error "
               "when rejected)");
  app.add_option("--plan", plan_file, "Run the SQL plan in this file instead of asking a model");
  app.add_option("--audit-dir", audit_dir, "Where each run's JSONL audit goes (\"\": none)")
      ->capture_default_str();
  examples::ModelFlags model_flags;
  examples::add_model_flags(app, model_flags);
  CLI11_PARSE(app, argc, argv);

  std::error_code ignored;
  if (const auto parent = std::filesystem::path(db).parent_path(); !parent.empty()) {
    std::filesystem::create_directories(parent, ignored);
  }
  if (auto prepared = sunglasses::prepare_store(db, reseed); !prepared) {
    std::cerr << "sunglasses: " << prepared.error().to_string() << "\n";
    return 1;
  }
  sunglasses::AgentOptions options;
  options.db_path = db;
  options.audit_dir = audit_dir;
  auto gateway = examples::make_gateway(
      model_flags, model_flags.url.empty()
                       ? std::filesystem::path()
                       : std::filesystem::path(db).parent_path() / "llm-cache.db");
  if (!gateway) {
    std::cerr << "sunglasses: " << gateway.error().to_string() << "\n";
    return 2;
  }
  if (*gateway) {
    options.llm = (*gateway)->callback();
    options.max_replans = 2;  // a real model may correct a rejected plan
  }
  if (!plan_file.empty()) {
    std::ifstream in(plan_file, std::ios::binary);
    if (!in) {
      std::cerr << "sunglasses: cannot read plan file '" << plan_file << "'\n";
      return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    options.plan_text = text.str();
  }
  if (!request.empty()) return answer(request, options, as_json, *gateway);
  if (!plan_file.empty()) return answer("(plan given with --plan)", options, as_json, *gateway);

  std::cout << "Sunglasses store assistant. Ask away (an empty line or Ctrl-D quits).\n";
  std::string line;
  while (std::cout << "> " << std::flush, std::getline(std::cin, line) && !line.empty()) {
    answer(line, options, as_json, *gateway);
    std::cout << "\n";
  }
  return 0;
}
