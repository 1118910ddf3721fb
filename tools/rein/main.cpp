// rein — command-line companion to the rein library.
#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "rein/version.hpp"

int main(int argc, char** argv) {
  CLI::App app{"rein: check policies and audit logs, and use or guard MCP servers"};
  app.set_version_flag("--version", rein::version());
  app.require_subcommand(1);
  rein::cli::Runner policy = rein::cli::add_policy_command(app);
  rein::cli::Runner audit = rein::cli::add_audit_command(app);
  rein::cli::Runner mcp = rein::cli::add_mcp_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : rein::cli::kExitBadInput;
  }
  try {
    if (app.got_subcommand("policy")) return policy();
    if (app.got_subcommand("audit")) return audit();
    if (app.got_subcommand("mcp")) return mcp();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rein: internal error: %s\n", e.what());
    return rein::cli::kExitFailure;
  }
  return rein::cli::kExitBadInput;
}
