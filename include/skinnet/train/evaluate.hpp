#pragma once
// Running a classifier over a dataset: softmax probabilities for every image (optionally averaged over
// test-time-augmentation views), the true labels and the mean loss.
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "skinnet/data/loader.hpp"
#include "skinnet/data/tta.hpp"
#include "skinnet/models/classifier.hpp"
#include "skinnet/train/loss.hpp"

namespace skinnet {

struct Predictions {
  int num_classes = 0;
  std::vector<int> labels;        // true class per image
  std::vector<float> probs;       // N x num_classes, row-major
  std::vector<int64_t> samples;   // dataset index per image
  double mean_loss = 0.0;         // cross-entropy of the (averaged) probabilities
};

namespace eval_detail {
// Softmax of each row, in place (max-subtracted for stability).
inline void softmax_rows(std::vector<float>& v, int k) {
  for (size_t r = 0; r + static_cast<size_t>(k) <= v.size(); r += static_cast<size_t>(k)) {
    float m = v[r];
    for (int j = 1; j < k; ++j) m = std::max(m, v[r + static_cast<size_t>(j)]);
    double s = 0;
    for (int j = 0; j < k; ++j) s += std::exp(static_cast<double>(v[r + static_cast<size_t>(j)] - m));
    for (int j = 0; j < k; ++j)
      v[r + static_cast<size_t>(j)] = static_cast<float>(std::exp(static_cast<double>(v[r + static_cast<size_t>(j)] - m)) / s);
  }
}

// One dihedral view of a batch of square NHWC images (exact pixel permutation).
inline Tensor<Cpu> view_batch(const Tensor<Cpu>& x, DihedralView v) {
  if (v.identity()) return x.clone();
  const Shape& s = x.shape();
  SKN_REQUIRE(s.h() == s.w(), ShapeError, "test-time augmentation needs square images, got ", s.str());
  Tensor<Cpu> out(s);
  const int64_t plane = s.h() * s.w() * s.c();
  for (int64_t n = 0; n < s.n(); ++n)
    apply_dihedral(x.data() + n * plane, static_cast<int>(s.w()), static_cast<int>(s.h()), static_cast<int>(s.c()), v,
                   out.data() + n * plane);
  return out;
}
}  // namespace eval_detail

// Predicts every image the loader yields for `epoch` (use an evaluation loader: no augmentation, no
// shuffle). progress(done, total) is called after each batch when given.
template <class D>
Predictions predict(Classifier<D>& model, Loader& loader, TtaMode tta = TtaMode::None,
                    const std::function<void(int64_t, int64_t)>& progress = {}) {
  Predictions p;
  const int k = static_cast<int>(model.num_classes());
  p.num_classes = k;
  const auto views = tta_views(tta);
  loader.start_epoch(0);
  int64_t done = 0;
  const int64_t total = loader.dataset().size();
  while (auto batch = loader.next()) {
    const int64_t n = static_cast<int64_t>(batch->labels.size());
    std::vector<float> avg(static_cast<size_t>(n * k), 0.f);
    for (const DihedralView& v : views) {
      Tensor<Cpu> xv = eval_detail::view_batch(batch->images, v);
      std::vector<float> probs = model.forward(transfer<D>(xv), Mode::Infer).to_vector();
      eval_detail::softmax_rows(probs, k);
      for (size_t i = 0; i < avg.size(); ++i) avg[i] += probs[i] / static_cast<float>(views.size());
    }
    for (int64_t i = 0; i < n; ++i) {
      const int y = batch->labels[static_cast<size_t>(i)];
      p.labels.push_back(y);
      p.samples.push_back(batch->samples[static_cast<size_t>(i)]);
      p.mean_loss -= std::log(std::max(1e-12, static_cast<double>(avg[static_cast<size_t>(i * k + y)])));
    }
    p.probs.insert(p.probs.end(), avg.begin(), avg.end());
    done += n;
    if (progress) progress(done, total);
  }
  if (!p.labels.empty()) p.mean_loss /= static_cast<double>(p.labels.size());
  return p;
}

}  // namespace skinnet
