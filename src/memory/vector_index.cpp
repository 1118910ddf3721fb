#include "memory/vector_index.hpp"

#include <algorithm>
#include <cmath>
#include <queue>

namespace rein::detail {

namespace {

float dot(const float* a, const float* b, std::size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (std::size_t j = 0; j < 8; ++j)
      acc[j] += a[i + j] * b[i + j];
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i)
    sum += a[i] * b[i];
  return sum;
}

}  // namespace

bool VectorIndex::normalise(std::vector<float>& v) {
  double norm = 0;
  for (float x : v)
    norm += static_cast<double>(x) * static_cast<double>(x);
  if (!(norm > 0) || !std::isfinite(norm)) return false;
  const float scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& x : v)
    x *= scale;
  return true;
}

bool VectorIndex::add(std::int64_t id, const float* vector, std::size_t dim) {
  if (dim == 0 || (dim_ != 0 && dim != dim_)) return false;
  std::vector<float> v(vector, vector + dim);
  if (!normalise(v)) return false;
  dim_ = dim;
  if (auto it = row_of_.find(id); it != row_of_.end()) {
    std::copy(v.begin(), v.end(), data_.begin() + static_cast<std::ptrdiff_t>(it->second * dim_));
    return true;
  }
  row_of_[id] = ids_.size();
  ids_.push_back(id);
  data_.insert(data_.end(), v.begin(), v.end());
  return true;
}

void VectorIndex::remove(std::int64_t id) {
  auto it = row_of_.find(id);
  if (it == row_of_.end()) return;
  const std::size_t row = it->second;
  const std::size_t last = ids_.size() - 1;
  if (row != last) {
    std::copy(data_.begin() + static_cast<std::ptrdiff_t>(last * dim_),
              data_.begin() + static_cast<std::ptrdiff_t>((last + 1) * dim_),
              data_.begin() + static_cast<std::ptrdiff_t>(row * dim_));
    ids_[row] = ids_[last];
    row_of_[ids_[row]] = row;
  }
  ids_.pop_back();
  data_.resize(ids_.size() * dim_);
  row_of_.erase(it);
}

std::vector<std::pair<std::int64_t, float>> VectorIndex::top_k(
    const float* query, std::size_t dim, std::size_t k,
    const std::function<bool(std::int64_t)>& keep) const {
  std::vector<std::pair<std::int64_t, float>> out;
  if (dim != dim_ || dim == 0 || k == 0) return out;
  std::vector<float> q(query, query + dim);
  if (!normalise(q)) return out;
  // Min-heap of the best k by score.
  auto worse = [](const std::pair<float, std::size_t>& a, const std::pair<float, std::size_t>& b) {
    return a.first > b.first;
  };
  std::priority_queue<std::pair<float, std::size_t>, std::vector<std::pair<float, std::size_t>>,
                      decltype(worse)>
      best(worse);
  const float* row = data_.data();
  for (std::size_t r = 0; r < ids_.size(); ++r, row += dim_) {
    const float score = dot(q.data(), row, dim_);
    if (best.size() == k && score <= best.top().first) continue;
    if (keep && !keep(ids_[r])) continue;
    best.emplace(score, r);
    if (best.size() > k) best.pop();
  }
  out.resize(best.size());
  for (std::size_t i = out.size(); i-- > 0;) {
    out[i] = {ids_[best.top().second], best.top().first};
    best.pop();
  }
  return out;
}

}  // namespace rein::detail
