// ECMA-262 regular expressions, which JSON Schema's pattern keywords and "regex" format mean:
// their syntax (with the u flag), checked by a small recursive-descent parser, and their
// translation to RE2, which matches them in linear time.
#pragma once

#include <string>
#include <string_view>

namespace rein::detail {

bool is_ecma_regex(std::string_view pattern);

// `pattern` in RE2 syntax where ECMA-262 means something RE2 spells differently: long Unicode
// property names (\p{Letter}, \p{Script=Greek}) become RE2's short ones, \s and \S cover
// ECMA-262's Unicode white space, \cX becomes the control character, [] and [^] keep their
// ECMA-262 meaning, \uXXXX becomes \x{XXXX}. Everything else passes through unchanged (and RE2 may
// refuse it).
std::string ecma_to_re2(std::string_view pattern);

}  // namespace rein::detail
