// The rein command-line tool, run as a process.
#include <sys/wait.h>
#include <unistd.h>
#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

using nlohmann::json;

namespace {

struct Run {
  int exit_code;
  std::string out;
  std::string err;
};

Run run(const std::string& arguments) {
  // Unique per process and call: ctest runs test cases in parallel in one directory.
  static int calls = 0;
  const std::string err_path =
      "rein_cli_stderr_" + std::to_string(getpid()) + "_" + std::to_string(++calls) + ".txt";
  const std::string command = std::string(REIN_CLI_PATH) + " " + arguments + " 2>" + err_path;
  Run r{-1, {}, {}};
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr)
    r.out += buffer.data();
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  r.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
  std::remove(err_path.c_str());
  return r;
}

const std::string kPolicy = std::string(REIN_TEST_DATA_DIR) + "/qbr_policy.json";

std::string write_file(const std::string& name, const std::string& text) {
  std::ofstream(name) << text;
  return name;
}

}  // namespace

TEST_CASE("rein policy check prints one decision object", "[cli]") {
  auto allow = run("policy check " + kPolicy +
                   " --tool billing.mrr --args '{\"account_id\":\"A100\"}' --role analyst");
  REQUIRE(allow.exit_code == 0);
  json d = json::parse(allow.out);
  CHECK(d["decision"] == "allow");
  CHECK(d["rule"] == "read-tools");
  CHECK(d["reason"] ==
        "rule 'read-tools' allows the call: analysts and managers may read CRM, billing, usage and "
        "tickets");
  CHECK(d.size() == 3);

  auto approval =
      run("policy check " + kPolicy +
          " --tool slides.make --args '{\"deck_spec\":{\"idem\":\"A100-qbr\"}}' --role analyst");
  CHECK(json::parse(approval.out)["decision"] == "require_approval");
  auto manager =
      run("policy check " + kPolicy +
          " --tool slides.make --args '{\"deck_spec\":{\"idem\":\"A100-qbr\"}}' --role manager");
  CHECK(json::parse(manager.out)["rule"] == "slides-managers");

  auto deny = run("policy check " + kPolicy + " --tool billing.mrr");  // no roles
  REQUIRE(deny.exit_code == 0);  // a deny is an answer, not a failure
  CHECK(json::parse(deny.out)["rule"] == "default_deny");
}

TEST_CASE("rein policy check takes argument labels and explains label conditions", "[cli]") {
  const std::string policy = std::string(REIN_TEST_DATA_DIR) + "/assistant_policy.json";
  const std::string payment =
      " --tool payments.send --args '{\"iban\":\"XX00EVIL\",\"amount\":900}'";
  // Unlabelled arguments are trusted: the payment is allowed.
  CHECK(json::parse(run("policy check " + policy + payment).out)["decision"] == "allow");

  auto r =
      run("policy check " + policy + payment +
          " --label '/iban={\"trusted\": false, \"sources\": [\"tool:email.list\"]}' --explain");
  REQUIRE(r.exit_code == 0);
  const json d = json::parse(r.out);
  CHECK(d["decision"] == "deny");
  CHECK(d["rule"] == "default_deny");
  CHECK(d["reason"].get<std::string>().find(
            "rule 'pay' would allow the call, but argument /iban must derive from trusted content "
            "only; it is untrusted, public, from tool:email.list") != std::string::npos);
  CHECK(d["explain"] ==
        json::array({{{"rule", "pay"},
                      {"decision", "allow"},
                      {"matched", false},
                      {"failed",
                       "argument /iban must derive from trusted content only; it is "
                       "untrusted, public, from tool:email.list"}}}));

  auto batch =
      write_file("rein_cli_label_batch.jsonl",
                 "{\"tool\": \"email.send\", \"args\": {\"to\": \"bob@corp.example\"}, \"labels\": "
                 "{\"/body\": {\"trusted\": true, \"levels\": [\"secret\"]}}}\n"
                 "{\"tool\": \"email.send\", \"args\": {\"to\": \"bob@corp.example\"}}\n");
  auto lines = run("policy check " + policy + " --batch " + batch);
  REQUIRE(lines.exit_code == 0);
  std::istringstream in(lines.out);
  std::string first, second;
  std::getline(in, first);
  std::getline(in, second);
  CHECK(json::parse(first)["decision"] == "deny");
  CHECK(json::parse(second)["decision"] == "allow");
  std::remove(batch.c_str());

  auto not_pointer =
      run("policy check " + policy + " --tool email.send --label 'to={\"trusted\": false}'");
  CHECK(not_pointer.exit_code == 2);
  CHECK(not_pointer.err == "rein policy check: --label labels: 'to' is not a JSON pointer\n");
  auto not_json = run("policy check " + policy + " --tool email.send --label '/to=untrusted'");
  CHECK(not_json.exit_code == 2);
  CHECK(not_json.err == "rein policy check: --label /to: the label is not JSON\n");
  auto no_equals = run("policy check " + policy + " --tool email.send --label /to");
  CHECK(no_equals.exit_code == 2);
  CHECK(no_equals.err == "rein policy check: --label needs POINTER=LABEL, got '/to'\n");
  auto bad_label =
      run("policy check " + policy + " --tool email.send --label '/to={\"trusted\": 1}'");
  CHECK(bad_label.exit_code == 2);
  CHECK(bad_label.err ==
        "rein policy check: --label labels['/to']: field 'trusted' must be a boolean\n");
}

TEST_CASE("rein policy check --batch answers each line in order", "[cli]") {
  auto batch = write_file(
      "rein_cli_batch.jsonl",
      "{\"tool\": \"crm.search\", \"args\": {\"region\": \"east\"}, \"roles\": [\"guest\"]}\n"
      "\n"
      "{\"tool\": \"crm.search\", \"args\": {\"region\": \"west\"}, \"roles\": [\"analyst\"]}\n"
      "{\"tool\": \"slides.make\", \"roles\": [\"analyst\"]}\n");
  auto r = run("policy check " + kPolicy + " --batch " + batch);
  REQUIRE(r.exit_code == 0);
  std::vector<json> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    lines.push_back(json::parse(line));
  REQUIRE(lines.size() == 3);
  CHECK(lines[0]["rule"] == "no-east-for-guests");
  CHECK(lines[0]["decision"] == "deny");
  CHECK(lines[1]["decision"] == "allow");
  CHECK(lines[2]["decision"] == "require_approval");
  std::remove(batch.c_str());
}

TEST_CASE("rein policy check fails clearly on bad input", "[cli]") {
  auto missing = run("policy check /nonexistent.json --tool a.b");
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("policy file '/nonexistent.json' cannot be read") != std::string::npos);
  CHECK(missing.out.empty());

  auto bad_policy =
      write_file("rein_cli_bad_policy.json",
                 R"({"rules": [{"id": "x", "decision": "allow", "tool": "a", "oops": 1}]})");
  auto r = run("policy check " + bad_policy + " --tool a");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("rules[0] (id 'x'): unknown field 'oops'") != std::string::npos);
  std::remove(bad_policy.c_str());

  auto bad_args = run("policy check " + kPolicy + " --tool a.b --args '{not json'");
  CHECK(bad_args.exit_code == 2);
  CHECK(bad_args.err.find("--args is not valid JSON") != std::string::npos);
  auto array_args = run("policy check " + kPolicy + " --tool a.b --args '[1]'");
  CHECK(array_args.exit_code == 2);

  auto batch = write_file("rein_cli_bad_batch.jsonl",
                          "{\"tool\": \"crm.search\", \"roles\": [\"analyst\"]}\n{\"tool\": 5}\n");
  auto bad_line = run("policy check " + kPolicy + " --batch " + batch);
  CHECK(bad_line.exit_code == 2);
  CHECK(bad_line.out.empty());  // nothing printed when any line is bad
  CHECK(bad_line.err.find("rein_cli_bad_batch.jsonl:2: field 'tool' must be a non-empty string") !=
        std::string::npos);
  std::remove(batch.c_str());

  auto neither = run("policy check " + kPolicy);
  CHECK(neither.exit_code == 2);
  CHECK(neither.err.find("give --tool NAME (or --batch FILE)") != std::string::npos);
  auto no_command = run("");
  CHECK(no_command.exit_code == 2);
}
