#pragma once
// The skinnet exception hierarchy. Every message names what failed (a file, a tensor, a layer, a
// CUDA call with its source location) so a user can act on it without a debugger.
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace skinnet {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

class ShapeError : public Error { using Error::Error; };   // incompatible tensor shapes
class ValueError : public Error { using Error::Error; };   // bad argument or configuration
class IoError : public Error { using Error::Error; };      // files: missing, unreadable, corrupt
class DataError : public Error { using Error::Error; };    // datasets: labels, images, CSV content
class CudaError : public Error { using Error::Error; };    // a failed CUDA (or emulator) call
class NumericError : public Error { using Error::Error; };  // NaN / Inf where there must be none

namespace detail {
template <class... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream s;
  (s << ... << std::forward<Parts>(parts));
  return s.str();
}
}  // namespace detail

}  // namespace skinnet

// Throw `ErrType` with a message built from the remaining arguments when `cond` is false.
#define SKN_REQUIRE(cond, ErrType, ...)                                   \
  do {                                                                   \
    if (!(cond)) throw ErrType(::skinnet::detail::concat(__VA_ARGS__));  \
  } while (0)
