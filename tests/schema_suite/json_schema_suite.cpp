// Runs the official JSON-Schema-Test-Suite against rein::JsonSchema.
//
//   rein_schema_suite SUITE_DIR DRAFT [--format | --optional] [--verbose]
//
// DRAFT is draft2020-12 or draft7. Without --format: the required tests (tests/DRAFT/*.json),
// formats as annotations. With --format: the optional format tests (tests/DRAFT/optional/
// format/*.json) of the formats rein asserts, with FormatMode::assertion. remotes/ is served
// through a resolver as http://localhost:1234/, as the suite expects. A test counts as passed
// when the schema compiles and the verdict matches; "rejected" when compile() refuses the
// schema (a clear error, never a silent pass); "wrong" when the verdict differs.
//
// With --optional: the other optional tests (tests/DRAFT/optional/*.json), with unknown
// keywords ignored (UnknownKeywords::ignore) as those tests expect; the others run with rein's
// defaults.
//
// Exit status: 0 when no test outside kSkipped is wrong and enough pass (99% of the required
// tests, all asserted formats); 1 otherwise; 77 (CTest's skip) when SUITE_DIR is absent.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/json_schema.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Tests rein deliberately answers differently, each with its reason. Key: "file: group" for a
// whole group, "file: group: test" for one test; files under optional/ carry that prefix.
const std::map<std::string, std::string> kSkipped = {
    // Draft-07 lets validators check contentEncoding/contentMediaType; rein keeps them
    // annotations, as draft 2020-12 requires, in both drafts.
    {"optional/content.json: validation of string-encoded content based on media type",
     "content is an annotation"},
    {"optional/content.json: validation of binary string-encoding", "content is an annotation"},
    {"optional/content.json: validation of binary-encoded media type documents",
     "content is an annotation"},
};

// Formats rein asserts (docs/tools.md), plus the files about formats in general ("unknown"
// formats are ignored; ecmascript-regex is about the regex format).
// clang-format off
const std::set<std::string> kAssertedFormats = {
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname",
    "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uri-template", "uuid",
    "regex", "json-pointer", "relative-json-pointer", "ecmascript-regex", "unknown"};
// clang-format on

std::optional<json> read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  try {
    return json::parse(in);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

struct Tally {
  int passed = 0, rejected = 0, wrong = 0, skipped = 0;
  int total() const { return passed + rejected + wrong + skipped; }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: rein_schema_suite SUITE_DIR DRAFT [--format | --optional] [--verbose]\n");
    return 2;
  }
  const fs::path suite = argv[1];
  const std::string draft = argv[2];
  bool formats = false, optional = false, verbose = false;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--format") formats = true;
    if (arg == "--optional") optional = true;
    if (arg == "--verbose") verbose = true;
  }
  if (!fs::is_directory(suite / "tests" / draft)) {
    std::printf(
        "JSON-Schema-Test-Suite not found at %s: skipped (set REIN_JSON_SCHEMA_TEST_SUITE)\n",
        (suite / "tests" / draft).c_str());
    return 77;
  }

  rein::JsonSchemaOptions options;
  options.default_draft =
      draft == "draft7" ? rein::SchemaDraft::draft7 : rein::SchemaDraft::draft2020_12;
  options.format = formats ? rein::FormatMode::assertion : rein::FormatMode::annotation;
  // rein's default refuses unknown keywords; the required and format tests never need them,
  // the optional ones test that they are ignored, as JSON Schema says.
  options.unknown_keywords =
      optional ? rein::UnknownKeywords::ignore : rein::UnknownKeywords::reject;
  const fs::path remotes = suite / "remotes";
  options.resolver = [&remotes](const std::string& uri) -> std::optional<json> {
    const std::string prefix = "http://localhost:1234/";
    if (uri.rfind(prefix, 0) != 0) return std::nullopt;
    return read_json(remotes / uri.substr(prefix.size()));
  };

  std::vector<fs::path> files;
  const fs::path dir = formats    ? suite / "tests" / draft / "optional" / "format"
                       : optional ? suite / "tests" / draft / "optional"
                                  : suite / "tests" / draft;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    if (formats && kAssertedFormats.count(entry.path().stem().string()) == 0) continue;
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());

  Tally tally;
  std::map<std::string, int> rejected_by_file;
  for (const auto& file : files) {
    auto groups = read_json(file);
    if (!groups) {
      std::printf("cannot read %s\n", file.c_str());
      return 1;
    }
    const std::string name = (formats    ? "optional/format/"
                              : optional ? "optional/"
                                         : "") +
                             file.filename().string();
    for (const auto& group : *groups) {
      const std::string description = group["description"].get<std::string>();
      auto compiled = rein::JsonSchema::compile(group["schema"], options);
      for (const auto& test : group["tests"]) {
        const std::string id =
            name + ": " + description + ": " + test["description"].get<std::string>();
        const bool expected = test["valid"].get<bool>();
        if (kSkipped.count(id) != 0 || kSkipped.count(name + ": " + description) != 0) {
          ++tally.skipped;
          continue;
        }
        if (!compiled) {
          ++tally.rejected;
          ++rejected_by_file[name];
          if (verbose)
            std::printf("REJECTED %s: %s\n", id.c_str(), compiled.error().message().c_str());
          continue;
        }
        const bool accepted = compiled->accepts(test["data"]);
        const auto violations = compiled->validate(test["data"]);
        if (accepted != violations.empty()) {
          std::printf("INCONSISTENT %s: accepts() and validate() disagree\n", id.c_str());
          ++tally.wrong;
        } else if (accepted == expected) {
          ++tally.passed;
        } else {
          ++tally.wrong;
          std::printf("WRONG %s: expected %s\n", id.c_str(), expected ? "valid" : "invalid");
        }
      }
    }
  }
  const int counted = tally.total();
  const double rate = counted == 0 ? 0 : 100.0 * tally.passed / counted;
  std::printf(
      "%s%s: %d passed, %d rejected at compile time, %d wrong, %d skipped, of %d (%.1f%%)\n",
      draft.c_str(),
      formats    ? " formats"
      : optional ? " optional"
                 : "",
      tally.passed, tally.rejected, tally.wrong, tally.skipped, counted, rate);
  for (const auto& [file, count] : rejected_by_file)
    std::printf("  rejected in %s: %d\n", file.c_str(), count);
  // Required tests: at least 99% pass. Formats: all of those asserted. Optional tests: none wrong
  // (refusing a schema, e.g. one of draft 2019-09, is an honest answer there).
  const double needed = formats ? 100.0 : optional ? 0.0 : 99.0;
  return tally.wrong == 0 && rate >= needed ? 0 : 1;
}
