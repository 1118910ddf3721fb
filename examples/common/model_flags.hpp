// The examples' --llm-url and --model flags: offline by default; with a URL, rein's
// OpenAiClient behind an LlmGateway (usage accounting, and a response cache on disk).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <rein/llm_gateway.hpp>
#include <rein/openai_client.hpp>

namespace examples {

struct ModelFlags {
  std::string url;    // "" → offline
  std::string model;  // "" → $REIN_LLM_MODEL
};

inline void add_model_flags(CLI::App& app, ModelFlags& flags) {
  app.add_option(
      "--llm-url", flags.url,
      "An OpenAI-compatible server, e.g. https://api.openai.com/v1 or http://localhost:11434/v1 "
      "(key from $REIN_LLM_API_KEY or $OPENAI_API_KEY). Default: the offline model");
  app.add_option("--model", flags.model,
                 "The model to use with --llm-url (default: $REIN_LLM_MODEL)");
}

// The gateway to give the agent, or an empty optional when offline (no --llm-url). Errors name
// the flag at fault.
inline rein::Result<std::optional<rein::LlmGateway>> make_gateway(
    const ModelFlags& flags, const std::filesystem::path& cache_file) {
  if (flags.url.empty()) {
    if (!flags.model.empty())
      return rein::Error(rein::ErrorCode::invalid_argument, "--model needs --llm-url");
    return std::optional<rein::LlmGateway>();
  }
  rein::OpenAiOptions options;
  options.base_url = flags.url;
  options.model = flags.model;
  auto client = rein::OpenAiClient::create(options);
  if (!client) return client.error();
  if (client->options().model.empty()) {
    return rein::Error(rein::ErrorCode::invalid_argument,
                       "--llm-url needs --model (or $REIN_LLM_MODEL)");
  }
  rein::GatewayOptions gateway;
  gateway.endpoints.push_back(
      {"primary", client->options().model, client->callback(), std::nullopt});
  if (!cache_file.empty()) {
    std::error_code ignored;
    std::filesystem::create_directories(cache_file.parent_path(), ignored);
    auto cache = rein::SqliteLlmCache::open(cache_file);
    if (!cache) return cache.error();
    gateway.cache = *cache;
  }
  auto made = rein::LlmGateway::create(std::move(gateway));
  if (!made) return made.error();
  return std::optional<rein::LlmGateway>(std::move(*made));
}

}  // namespace examples
