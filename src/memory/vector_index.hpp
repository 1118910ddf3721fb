// Internal: exact cosine top-k over float32 vectors held contiguously in memory.
//
// Vectors are normalised on insert, so cosine similarity is a dot product; the scan keeps
// eight partial sums so the compiler can use SIMD, and a k-sized heap for the best. Removal
// swaps the last row into the hole. Not thread-safe: MemoryManager guards it.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rein::detail {

class VectorIndex {
 public:
  // Fixes the dimension on first use; false (nothing stored) for another dimension or a zero
  // vector.
  bool add(std::int64_t id, const float* vector, std::size_t dim);
  void remove(std::int64_t id);
  std::size_t size() const { return ids_.size(); }
  std::size_t dim() const { return dim_; }

  // The k best (id, cosine) among rows `keep(id)` accepts, best first. An empty result for a
  // query of another dimension or a zero vector.
  std::vector<std::pair<std::int64_t, float>> top_k(
      const float* query, std::size_t dim, std::size_t k,
      const std::function<bool(std::int64_t)>& keep = {}) const;

  // Normalises in place; false for a zero (or non-finite) vector.
  static bool normalise(std::vector<float>& v);

 private:
  std::size_t dim_ = 0;
  std::vector<float> data_;  // size() rows of dim_ floats
  std::vector<std::int64_t> ids_;
  std::unordered_map<std::int64_t, std::size_t> row_of_;
};

}  // namespace rein::detail
