// MCP tools in a ToolRegistry, against the misbehaving test server: catalog pins across two
// sessions, drift within one, deadlines, crashes and result limits as ToolResults.
#include <catch2/catch.hpp>

#include "../support/waiting.hpp"
#include "mcp_fixture.hpp"
#include "rein/mcp_tools.hpp"

using namespace rein;
using namespace rein::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::vector<json> catalog_entries(const MemoryAuditSink& sink) {
  std::vector<json> out;
  for (const auto& e : sink.entries()) {
    if (e.kind == "mcp_catalog") out.push_back(e.payload_json());
  }
  return out;
}

}  // namespace

TEST_CASE("MCP tool names become rein names", "[mcp]") {
  CHECK(mcp_tool_name("fs", "read_file") == "fs.read_file");
  CHECK(mcp_tool_name("everything", "get-sum") == "everything.get-sum");
  CHECK(mcp_tool_name("x", "admin.tools/list") == "x.admin_tools_list");
  CHECK(mcp_tool_name("x", "1st") == "x.t1st");
}

TEST_CASE("a catalog that changed between two sessions is refused against its pin", "[mcp]") {
  // The first session: the host reviews the catalog and pins its hash.
  std::string pinned;
  {
    ToolRegistry registry;
    auto first = register_mcp_tools(registry, connect_or_fail(misbehaving()));
    REQUIRE(first.ok());
    pinned = first->catalog_hash;
    CHECK(first->registered.size() == 15);
    CHECK(first->skipped.empty());
  }
  // The same catalog later matches its pin.
  {
    ToolRegistry registry;
    McpToolOptions options;
    options.pinned_catalog = pinned;
    CHECK(register_mcp_tools(registry, connect_or_fail(misbehaving()), options).ok());
  }
  // A second session whose server now describes echo differently.
  auto audit = std::make_shared<MemoryAuditSink>();
  McpToolOptions options;
  options.pinned_catalog = pinned;
  options.audit = audit;
  ToolRegistry registry;
  auto drifted =
      register_mcp_tools(registry, connect_or_fail(misbehaving({{"MCP_CATALOG", "b"}})), options);
  REQUIRE_FALSE(drifted.ok());
  CHECK(drifted.error().code() == ErrorCode::permission_denied);
  CHECK_THAT(drifted.error().message(),
             Catch::Contains("the catalog of MCP server 'fake' changed"));
  CHECK_THAT(drifted.error().message(), Catch::Contains(pinned));
  CHECK(registry.size() == 0);
  auto entries = catalog_entries(*audit);
  REQUIRE(entries.size() == 1);
  CHECK(entries[0]["decision"] == "refused");
  CHECK(entries[0]["pinned_hash"] == pinned);

  // Or the change is put to a person, and audited either way.
  options.on_catalog_change = McpCatalogChange::require_approval;
  McpCatalogDrift seen;
  options.approve_catalog_change = [&](const McpCatalogDrift& d) {
    seen = d;
    return true;
  };
  auto approved =
      register_mcp_tools(registry, connect_or_fail(misbehaving({{"MCP_CATALOG", "b"}})), options);
  REQUIRE(approved.ok());
  CHECK(seen.pinned_hash == pinned);
  CHECK(seen.observed_hash == approved->catalog_hash);
  CHECK(seen.observed_hash != pinned);
  entries = catalog_entries(*audit);
  REQUIRE(entries.size() == 2);
  CHECK(entries[1]["decision"] == "approved");
  CHECK(verify_audit(audit->entries()).ok);
}

TEST_CASE("a tool whose definition drifts within a session is refused at call time", "[mcp]") {
  auto audit = std::make_shared<MemoryAuditSink>();
  McpToolOptions options;
  options.audit = audit;
  auto client = connect_or_fail(misbehaving());
  ToolRegistry registry;
  REQUIRE(register_mcp_tools(registry, client, options).ok());
  REQUIRE(registry.invoke("fake.echo", {{"text", "before"}}).ok());

  REQUIRE(registry.invoke("fake.change_catalog", json::object()).ok());
  REQUIRE(eventually([&] { return client->tools_stale(); }));
  auto after = registry.invoke("fake.echo", {{"text", "after"}});
  CHECK(after.status == ToolStatus::denied);
  REQUIRE_FALSE(after.errors.empty());
  CHECK_THAT(after.errors[0], Catch::Contains("changed on the server since it was registered"));
  // Tools that did not change still work.
  CHECK(registry.invoke("fake.fail", json::object()).status == ToolStatus::error);
  CHECK(registry.invoke("fake.server_ping", json::object()).ok());

  auto entries = catalog_entries(*audit);
  REQUIRE(entries.size() == 1);
  CHECK(entries[0]["event"] == "drift");
  CHECK(entries[0]["changed"] == json::array({"echo"}));
}

TEST_CASE("MCP tool calls as ToolResults: errors, deadlines, crashes, limits", "[mcp][faults]") {
  auto client = connect_or_fail(misbehaving());
  ToolRegistry registry;
  McpToolOptions options;
  options.timeout = 300ms;
  options.max_result_bytes = 1000;
  REQUIRE(register_mcp_tools(registry, client, options).ok());

  auto echoed = registry.invoke("fake.echo", {{"text", "hi"}});
  REQUIRE(echoed.ok());
  CHECK(echoed.data == json{{"text", "hi"}});
  CHECK(registry.find("fake.echo")->side_effects);  // no host confirmation: assume effects
  CHECK_FALSE(registry.find("fake.echo")->trusted_output);

  auto failed = registry.invoke("fake.fail", json::object());
  CHECK(failed.status == ToolStatus::error);
  CHECK_FALSE(failed.transient);
  CHECK(failed.errors.at(0) == "MCP tool 'fake.fail' failed: the tool failed on purpose");

  auto invalid = registry.invoke("fake.echo", {{"text", 7}});
  CHECK(invalid.status == ToolStatus::invalid_input);

  auto hung = registry.invoke("fake.hang", json::object());
  CHECK(hung.status == ToolStatus::timeout);

  auto huge = registry.invoke("fake.huge", {{"bytes", 5000}});
  CHECK(huge.status == ToolStatus::error);
  CHECK_THAT(huge.errors.at(0), Catch::Contains("over the limit of 1000"));

  auto crashed = registry.invoke("fake.crash", json::object());
  CHECK(crashed.status == ToolStatus::error);
  CHECK(crashed.transient);  // a transport failure: another attempt may succeed
  CHECK_THAT(crashed.errors.at(0), Catch::Contains("exited with status 3"));
  CHECK(crashed.attempts == 1);  // not retry-safe: one attempt

  REQUIRE(eventually([&] { return client->stats().connected; }));
  CHECK(registry.invoke("fake.echo", {{"text", "again"}}).ok());
}

TEST_CASE("register_mcp_tools registers only what it is asked to", "[mcp]") {
  ToolRegistry registry;
  McpToolOptions options;
  options.only = {"echo", "fail"};
  options.prefix = "other";
  options.permissions = {"operator"};
  auto registration = register_mcp_tools(registry, connect_or_fail(misbehaving()), options);
  REQUIRE(registration.ok());
  CHECK(registration->registered == std::vector<std::string>{"other.echo", "other.fail"});
  CHECK(registry.find("other.echo")->permissions == std::vector<std::string>{"operator"});
}
