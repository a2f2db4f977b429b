#pragma once
// The one tolerance check used by every comparison against the float64 reference:
// |actual - expected| <= atol + rtol * |expected| for every element. On failure the message lists the
// worst elements with their flat indices, so a failing kernel points at where it went wrong.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace skinnet::ref {

struct CloseResult {
  bool ok = true;
  std::string report;  // empty when ok
  explicit operator bool() const { return ok; }
};

template <class A, class E>
CloseResult all_close(const A* actual, const E* expected, int64_t n, double atol, double rtol,
                      const std::string& what = "tensor") {
  struct Bad {
    int64_t i;
    double a, e, excess;
  };
  std::vector<Bad> bad;
  int64_t nbad = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = static_cast<double>(actual[i]);
    const double e = static_cast<double>(expected[i]);
    const double err = std::fabs(a - e);
    const double tol = atol + rtol * std::fabs(e);
    if (!(err <= tol)) {  // also catches NaN
      ++nbad;
      bad.push_back({i, a, e, std::isnan(err) ? INFINITY : err - tol});
    }
  }
  CloseResult r;
  if (nbad == 0) return r;
  r.ok = false;
  std::sort(bad.begin(), bad.end(), [](const Bad& x, const Bad& y) { return x.excess > y.excess; });
  std::ostringstream s;
  s.precision(9);
  s << what << ": " << nbad << " of " << n << " elements outside atol=" << atol << " rtol=" << rtol
    << "; worst:";
  for (size_t k = 0; k < bad.size() && k < 8; ++k)
    s << "\n  [" << bad[k].i << "] got " << bad[k].a << " expected " << bad[k].e;
  r.report = s.str();
  return r;
}

template <class A, class E>
CloseResult all_close(const std::vector<A>& actual, const std::vector<E>& expected, double atol,
                      double rtol, const std::string& what = "tensor") {
  if (actual.size() != expected.size()) {
    CloseResult r;
    r.ok = false;
    r.report = what + ": size " + std::to_string(actual.size()) + " != expected " +
               std::to_string(expected.size());
    return r;
  }
  return all_close(actual.data(), expected.data(), static_cast<int64_t>(actual.size()), atol, rtol, what);
}

}  // namespace skinnet::ref

// doctest helper: CHECK_CLOSE(actual_vec, expected_vec, atol, rtol)
#define SKN_CHECK_CLOSE(actual, expected, atol, rtol)                                            \
  do {                                                                                           \
    auto skn_r_ = ::skinnet::ref::all_close(actual, expected, atol, rtol, #actual);              \
    if (!skn_r_) FAIL_CHECK(skn_r_.report);                                                      \
    else CHECK(skn_r_.ok);                                                                       \
  } while (0)
