// The plan-as-code prompt: the lab's prompt, with SQL in place of Python and TinyDB.
#pragma once

#include <string>
#include <string_view>

namespace sunglasses {

extern const char* const kSystemPrompt;

// The user message: rules, transaction policy, output contract, schema and the request.
std::string build_prompt(std::string_view schema_block, std::string_view request);

// The request inside a prompt built by build_prompt ("" when there is none).
std::string request_of_prompt(std::string_view prompt);

}  // namespace sunglasses
