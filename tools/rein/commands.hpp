// The rein command-line tool's subcommands. Each registers itself on the CLI11 app and
// returns the process exit code when run.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace rein::cli {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran and found a problem (e.g. a broken audit)
inline constexpr int kExitBadInput = 2;  // unusable input: a bad policy, request or file

using Runner = std::function<int()>;

// `rein policy check ...`
Runner add_policy_command(CLI::App& app);
// `rein audit verify FILE`
Runner add_audit_command(CLI::App& app);
// `rein mcp list|call|proxy ...`
Runner add_mcp_command(CLI::App& app);

}  // namespace rein::cli
