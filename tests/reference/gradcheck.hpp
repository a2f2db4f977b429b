#pragma once
// Central-difference gradient check for the float64 reference ops.
//
// Pattern: pick a random "upstream gradient" r, define the scalar L(x) = sum(forward(x) * r); then the
// reference backward with dy = r must equal dL/dx. We perturb every input element (or a random sample
// of them for big tensors) by ±h and compare (L(x+h) - L(x-h)) / 2h with the analytic value.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace skinnet::ref {

inline std::vector<double> random_vector(size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

struct GradCheckResult {
  bool ok = true;
  double worst_rel = 0;
  std::string report;
};

// loss(x) evaluates the scalar objective; analytic is the claimed gradient at x. Checks at most
// max_points elements (all when the tensor is small). Tolerance: |num - ana| <= atol + rtol*|num|.
inline GradCheckResult grad_check(const std::function<double(const std::vector<double>&)>& loss,
                                  std::vector<double> x, const std::vector<double>& analytic,
                                  const std::string& what, double h = 1e-6, double atol = 1e-7,
                                  double rtol = 1e-5, size_t max_points = 400, uint64_t seed = 7) {
  GradCheckResult r;
  std::vector<size_t> idx(x.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  if (idx.size() > max_points) {
    std::mt19937_64 gen(seed);
    std::shuffle(idx.begin(), idx.end(), gen);
    idx.resize(max_points);
  }
  std::ostringstream s;
  int bad = 0;
  for (size_t i : idx) {
    const double keep = x[i];
    x[i] = keep + h;
    const double up = loss(x);
    x[i] = keep - h;
    const double down = loss(x);
    x[i] = keep;
    const double num = (up - down) / (2 * h);
    const double err = std::fabs(num - analytic[i]);
    r.worst_rel = std::max(r.worst_rel, err / (std::fabs(num) + 1e-12));
    if (!(err <= atol + rtol * std::fabs(num))) {
      if (bad++ < 6) s << "\n  [" << i << "] numeric " << num << " analytic " << analytic[i];
      r.ok = false;
    }
  }
  if (!r.ok) r.report = what + ": gradient check failed at " + std::to_string(bad) + " points:" + s.str();
  return r;
}

}  // namespace skinnet::ref

#define SKN_CHECK_GRAD(result)                        \
  do {                                                \
    auto skn_g_ = (result);                           \
    if (!skn_g_.ok) FAIL_CHECK(skn_g_.report);        \
    else CHECK(skn_g_.ok);                            \
  } while (0)
