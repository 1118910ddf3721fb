#include <algorithm>
#include <cctype>
#include <cstdio>

#include "memory/memory_support.hpp"
#include "rein/memory_manager.hpp"

namespace rein {

std::string_view to_string(MemoryKind kind) noexcept {
  switch (kind) {
    case MemoryKind::episodic:
      return "episodic";
    case MemoryKind::semantic:
      return "semantic";
    case MemoryKind::procedural:
      return "procedural";
  }
  return "semantic";
}

std::optional<MemoryKind> memory_kind_from_string(std::string_view name) noexcept {
  for (auto k : {MemoryKind::episodic, MemoryKind::semantic, MemoryKind::procedural}) {
    if (to_string(k) == name) return k;
  }
  return std::nullopt;
}

Recall pack_into_budget(std::vector<RecalledItem> ranked, std::int64_t budget_tokens,
                        std::size_t top_k) {
  Recall out;
  for (auto& item : ranked) {
    if (out.items.size() >= top_k) break;
    if (item.tokens > budget_tokens - out.tokens) {
      ++out.skipped;  // a smaller one further down may still fit
      continue;
    }
    out.tokens += item.tokens;
    out.items.push_back(std::move(item));
  }
  return out;
}

nlohmann::json ActionStats::to_json() const {
  return {{"action_kind", action_kind},
          {"signature", signature},
          {"samples", samples},
          {"mean", mean},
          {"ci95", {ci95_low, ci95_high}}};
}

namespace detail {

std::string fts_query(std::string_view text) {
  constexpr std::size_t kMaxWords = 64;  // a whole document as a query stays a bounded search
  std::string out;
  std::string word;
  std::vector<std::string> seen;
  auto flush = [&] {
    if (word.empty()) return;
    if (seen.size() < kMaxWords && std::find(seen.begin(), seen.end(), word) == seen.end()) {
      if (!out.empty()) out += " OR ";
      out += '"' + word + '"';
      seen.push_back(word);
    }
    word.clear();
  };
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80) {
      word.push_back(c);
    } else {
      flush();
    }
  }
  flush();
  return out;
}

std::vector<std::string> chunk_text(std::string_view text, std::size_t size, std::size_t overlap) {
  std::vector<std::string> chunks;
  size = std::max<std::size_t>(size, 16);
  overlap = std::min(overlap, size / 2);
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = std::min(text.size(), start + size);
    if (end < text.size()) {
      // Prefer a paragraph, then a sentence, then a word boundary in the last third.
      const std::size_t floor = start + size * 2 / 3;
      std::size_t cut = std::string_view::npos;
      for (std::string_view mark : {"\n\n", ". ", " "}) {
        const auto at = text.rfind(mark, end - mark.size());
        if (at != std::string_view::npos && at >= floor) {
          cut = at + mark.size();
          break;
        }
      }
      if (cut != std::string_view::npos) end = cut;
      while (end > start + 1 && end < text.size() &&
             (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
        --end;
    }
    chunks.emplace_back(text.substr(start, end - start));
    if (end >= text.size()) break;
    std::size_t next = end > overlap ? end - overlap : end;
    if (next <= start) next = end;
    while (next > start && next < text.size() &&
           (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80)
      --next;
    if (next <= start) next = end;
    start = next;
  }
  return chunks;
}

double t_quantile_975(std::int64_t df) {
  static constexpr double kTable[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                      2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                                      2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                                      2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
  if (df < 1) return kTable[0];
  if (df <= 30) return kTable[df - 1];
  // Beyond 30: 1.96 plus the usual first-order correction (within 0.002 of the exact value).
  const double d = static_cast<double>(df);
  return 1.959964 + 2.3722 / d + 2.8224 / (d * d);
}

}  // namespace detail
}  // namespace rein
