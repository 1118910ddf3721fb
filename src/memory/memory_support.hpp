// Internal: the SQLite-free parts of MemoryManager (query words, chunking, statistics).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rein::detail {

// An FTS5 query matching any of the words of `text`, each quoted so that no FTS5 syntax
// (operators, columns, prefixes, NEAR) can be injected. "" when the text has no words.
std::string fts_query(std::string_view text);
// Overlapping chunks of at most `size` bytes, cut at a paragraph, sentence or word boundary
// when one is near, never inside a UTF-8 character.
std::vector<std::string> chunk_text(std::string_view text, std::size_t size, std::size_t overlap);
// The 0.975 quantile of Student's t with `df` degrees of freedom (df >= 1).
double t_quantile_975(std::int64_t df);

}  // namespace rein::detail
