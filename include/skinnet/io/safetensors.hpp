#pragma once
// safetensors: the tensor file format of Hugging Face's `safetensors` library, which skinnet uses for
// model files and checkpoints (DESIGN.md §6, §8), so they open in Python and the reverse.
//
// The format, byte by byte:
//   [8 bytes]  N, the length of the JSON header, unsigned 64-bit little-endian
//   [N bytes]  a UTF-8 JSON object, starting with '{' and possibly padded at the end with spaces:
//                {"__metadata__": {"key": "value", ...},                      (optional, strings only)
//                 "conv1.weight": {"dtype": "F32", "shape": [3, 3, 3, 32],
//                                  "data_offsets": [BEGIN, END]}, ...}
//   [rest]     the data section: each tensor's elements, row-major, little-endian, at bytes
//              [BEGIN, END) counted from the start of the data section.
//
// Reading trusts nothing: a model file may come from anywhere, and a corrupt or hostile header must
// end in a clear IoError naming the file and the problem, never in a crash, an out-of-bounds read or
// an absurd allocation. SafetensorsReader checks, before reading a single tensor:
//   - the file holds the 8-byte length, and the length is at most kMaxHeaderBytes and within the file;
//   - the header is valid JSON (nlohmann::json), starts with '{', has no duplicate keys at any level
//     (JSON parsers usually keep the last one silently), and nests no deeper than the format does;
//   - each entry is an object with exactly "dtype", "shape" and "data_offsets"; the dtype is one the
//     format defines; the shape is at most kMaxReadRank non-negative integers whose product, times the
//     dtype size, does not overflow; the offsets are two integers with BEGIN <= END <= data size, and
//     END - BEGIN is exactly numel x dtype size;
//   - the tensors tile the data section exactly: no overlaps, no holes, no trailing bytes;
//   - "__metadata__" is an object of string values; no tensor is named "" or "__metadata__".
// Tensor data are then read on demand (read_floats / read_bytes / read_int64), one tensor at a time,
// so loading a model never holds the file twice in memory.
//
// Writing: write_safetensors writes atomically (io/atomic_file.hpp: temp file, fsync, rename, fsync the
// directory). Tensors are laid out grouped by element size, largest first, and in the order given
// within a group: every tensor then starts at a multiple of its element size (the header is padded
// to a multiple of 8 bytes, as the reference implementation does), so the file can be memory-mapped
// and viewed as typed arrays. The header lists "__metadata__" first (when there is any), then the
// tensors in data order.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/core/shape.hpp"
#include "skinnet/io/atomic_file.hpp"
#include "skinnet/io/dtype.hpp"

namespace skinnet::io {

// The data section is little-endian and read straight into memory.
static_assert(std::endian::native == std::endian::little, "skinnet's safetensors code assumes a little-endian host");

// Limits on what a header may ask of the reader. 100 MB is the reference implementation's cap;
// real headers are kilobytes (about 150 bytes a tensor).
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;
inline constexpr int kMaxReadRank = 16;

using Metadata = std::map<std::string, std::string>;

// One tensor as described by the header. Offsets count from the start of the data section.
struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<int64_t> shape;  // empty for a scalar
  uint64_t begin = 0;
  uint64_t end = 0;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;  // cannot overflow: the reader checked the product
    return n;
  }
  uint64_t nbytes() const { return end - begin; }
  std::string shape_str() const {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  }
};

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;  // in data order (by BEGIN)
  Metadata metadata;
};

namespace detail {

using ::skinnet::detail::concat;

// A name as it appears in a message: JSON-quoted, so control characters and odd bytes stay visible.
inline std::string quoted(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

template <class... Parts>
[[noreturn]] void header_error(const std::string& source, Parts&&... parts) {
  throw IoError(concat(source, ": invalid safetensors file: ", std::forward<Parts>(parts)...));
}

// Watches the JSON parser's events (nlohmann's parser callback) to reject what a DOM would hide or what
// would cost unbounded memory before the structure is even checked:
//   - a duplicate key in any object (nlohmann keeps the last value silently);
//   - containers nested deeper than the format's three levels (header -> entry -> shape array);
//   - arrays longer than any valid shape or offset pair could be.
// nlohmann reports a container's start with the container's own nesting level as `depth` (0 for the
// header object, 1 for an entry, 2 for its shape array); throwing here aborts the parse, and the
// exception reaches the caller unchanged.
class HeaderGuard {
 public:
  explicit HeaderGuard(const std::string& source) : source_(source) {}

  bool operator()(int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    switch (event) {
      case E::object_start:
      case E::array_start:
        count_element();
        if (depth > 2) header_error(source_, "the header nests JSON containers deeper than the format allows");
        frames_.push_back(Frame{event == E::array_start, 0, {}});
        break;
      case E::object_end:
      case E::array_end:
        frames_.pop_back();
        break;
      case E::key: {
        auto& keys = frames_.back().keys;
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!keys.insert(key).second) {
          const bool top = frames_.size() == 1;
          header_error(source_, top ? "tensor " : "key ", quoted(key), " appears twice in ",
                       top ? "the header" : "one object");
        }
        break;
      }
      case E::value:
        count_element();
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool is_array;
    std::size_t elements;
    std::set<std::string> keys;
  };
  void count_element() {
    if (frames_.empty() || !frames_.back().is_array) return;
    if (++frames_.back().elements > static_cast<std::size_t>(kMaxReadRank))
      header_error(source_, "the header holds an array longer than any shape (", kMaxReadRank, " dimensions)");
  }
  const std::string& source_;
  std::vector<Frame> frames_;
};

// A JSON value that must be a non-negative integer (nlohmann keeps integers that do not fit 64 bits,
// and anything with a fraction or exponent, as floating point: both are rejected).
inline uint64_t header_uint(const nlohmann::json& v, const std::string& source, const std::string& tensor,
                            const char* field) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  if (v.is_number_integer())
    header_error(source, "tensor ", quoted(tensor), ": ", field, " holds the negative number ", v.dump());
  header_error(source, "tensor ", quoted(tensor), ": ", field, " must hold non-negative integers, found ",
               v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

inline TensorInfo parse_entry(const std::string& name, const nlohmann::json& entry, uint64_t data_bytes,
                              const std::string& source) {
  if (!entry.is_object())
    header_error(source, "entry ", quoted(name), " must be an object with dtype, shape and data_offsets, found a ",
                 entry.type_name());
  for (const auto& [key, value] : entry.items()) {
    (void)value;
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      header_error(source, "tensor ", quoted(name), ": unexpected field ", quoted(key));
  }
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(field)) header_error(source, "tensor ", quoted(name), ": missing field \"", field, "\"");

  TensorInfo t;
  t.name = name;
  const auto& dtype = entry["dtype"];
  if (!dtype.is_string()) header_error(source, "tensor ", quoted(name), ": dtype must be a string, found ", dtype.dump());
  const auto parsed = parse_dtype(dtype.get_ref<const std::string&>());
  if (!parsed) header_error(source, "tensor ", quoted(name), ": unknown dtype ", dtype.dump());
  t.dtype = *parsed;

  const auto& shape = entry["shape"];
  if (!shape.is_array()) header_error(source, "tensor ", quoted(name), ": shape must be an array, found ", shape.dump());
  uint64_t numel = 1;
  for (const auto& d : shape) {
    const uint64_t extent = header_uint(d, source, name, "shape");
    if (extent > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        __builtin_mul_overflow(numel, extent, &numel))
      header_error(source, "tensor ", quoted(name), ": shape ", shape.dump(), " has more elements than 2^64");
    t.shape.push_back(static_cast<int64_t>(extent));
  }
  uint64_t expected_bytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(t.dtype)), &expected_bytes) ||
      numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    header_error(source, "tensor ", quoted(name), ": shape ", shape.dump(), " is too large to address");

  const auto& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2)
    header_error(source, "tensor ", quoted(name), ": data_offsets must be [begin, end], found ", offsets.dump());
  t.begin = header_uint(offsets[0], source, name, "data_offsets");
  t.end = header_uint(offsets[1], source, name, "data_offsets");
  if (t.begin > t.end)
    header_error(source, "tensor ", quoted(name), ": data_offsets [", t.begin, ", ", t.end, "] end before they begin");
  if (t.end > data_bytes)
    header_error(source, "tensor ", quoted(name), ": data_offsets [", t.begin, ", ", t.end,
                 "] reach beyond the data section (", data_bytes, " bytes)");
  if (t.end - t.begin != expected_bytes)
    header_error(source, "tensor ", quoted(name), ": data_offsets [", t.begin, ", ", t.end, "] hold ",
                 t.end - t.begin, " bytes but shape ", t.shape_str(), " of ", dtype_name(t.dtype), " needs ",
                 expected_bytes);
  return t;
}

}  // namespace detail

// Parses and validates a header (the N bytes after the length) for a data section of `data_bytes`
// bytes. `source` (usually the file name) starts every error message.
inline SafetensorsHeader parse_safetensors_header(std::string_view text, uint64_t data_bytes,
                                                  const std::string& source) {
  using nlohmann::json;
  // The spec requires the header to begin with '{'; a JSON parser would also accept leading spaces.
  if (text.empty() || text.front() != '{')
    detail::header_error(source, "the JSON header must start with '{'");

  json root;
  try {
    detail::HeaderGuard guard(source);
    root = json::parse(text.begin(), text.end(), std::ref(guard));
  } catch (const json::exception& e) {
    detail::header_error(source, "the header is not valid JSON (", e.what(), ")");
  }
  if (!root.is_object()) detail::header_error(source, "the header must be a JSON object");

  SafetensorsHeader header;
  for (const auto& [name, value] : root.items()) {
    if (name == "__metadata__") {
      if (!value.is_object())
        detail::header_error(source, "__metadata__ must be an object of strings, found a ", value.type_name());
      for (const auto& [key, v] : value.items()) {
        if (!v.is_string())
          detail::header_error(source, "__metadata__ value for ", detail::quoted(key), " must be a string, found ",
                               v.dump());
        header.metadata[key] = v.get<std::string>();
      }
      continue;
    }
    if (name.empty()) detail::header_error(source, "a tensor has an empty name");
    header.tensors.push_back(detail::parse_entry(name, value, data_bytes, source));
  }

  // The tensors must tile the data section: sorted by position, each begins where the previous ends.
  auto& ts = header.tensors;
  std::sort(ts.begin(), ts.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t covered = 0;
  const TensorInfo* prev = nullptr;
  for (const auto& t : ts) {
    if (t.begin < covered)
      detail::header_error(source, "tensors ", detail::quoted(prev->name), " [", prev->begin, ", ", prev->end, ") and ",
                           detail::quoted(t.name), " [", t.begin, ", ", t.end, ") overlap");
    if (t.begin > covered)
      detail::header_error(source, "bytes [", covered, ", ", t.begin, ") of the data section belong to no tensor");
    covered = t.end;
    prev = &t;
  }
  if (covered != data_bytes)
    detail::header_error(source, "the data section has ", data_bytes - covered, " bytes after the last tensor (",
                         data_bytes, " bytes in all, tensors cover ", covered, ")");
  return header;
}

// Reads a safetensors file: the header at construction (validated as described at the top), tensor
// data on demand. Also reads from a byte buffer (from_bytes) for tests and fuzzers.
class SafetensorsReader {
 public:
  explicit SafetensorsReader(const std::filesystem::path& path) : source_(path.string()) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw IoError(detail::concat(source_, ": cannot open: ", std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw IoError(detail::concat(source_, ": cannot stat: ", std::strerror(errno)));
    if (!S_ISREG(st.st_mode)) throw IoError(detail::concat(source_, ": not a regular file"));
    size_ = static_cast<uint64_t>(st.st_size);
    read_header();
  }
  static SafetensorsReader from_bytes(std::vector<uint8_t> bytes, std::string source = "<memory>") {
    SafetensorsReader r;
    r.source_ = std::move(source);
    r.memory_ = std::move(bytes);
    r.size_ = r.memory_.size();
    r.read_header();
    return r;
  }

  SafetensorsReader(SafetensorsReader&& o) noexcept { swap(o); }
  SafetensorsReader& operator=(SafetensorsReader&& o) noexcept {
    if (this != &o) {
      SafetensorsReader tmp(std::move(o));
      swap(tmp);
    }
    return *this;
  }
  SafetensorsReader(const SafetensorsReader&) = delete;
  SafetensorsReader& operator=(const SafetensorsReader&) = delete;
  ~SafetensorsReader() {
    if (fd_ >= 0) ::close(fd_);
  }

  const std::string& source() const { return source_; }
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }
  const Metadata& metadata() const { return header_.metadata; }

  const TensorInfo* find(std::string_view name) const {
    auto it = index_.find(std::string(name));
    return it == index_.end() ? nullptr : &header_.tensors[it->second];
  }
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  const TensorInfo& info(std::string_view name) const {
    const TensorInfo* t = find(name);
    if (!t) throw IoError(detail::concat(source_, ": no tensor named ", detail::quoted(name)));
    return *t;
  }

  // The tensor's bytes exactly as stored (little-endian elements).
  std::vector<uint8_t> read_bytes(const TensorInfo& t) const {
    std::vector<uint8_t> out(static_cast<std::size_t>(t.nbytes()));
    read_at(data_start_ + t.begin, out.data(), t.nbytes(), t.name);
    return out;
  }
  std::vector<uint8_t> read_bytes(std::string_view name) const { return read_bytes(info(name)); }

  // A floating-point tensor (F32, or F16 / BF16 / F64 converted) as float32.
  std::vector<float> read_floats(const TensorInfo& t) const {
    const auto n = static_cast<std::size_t>(t.numel());
    std::vector<float> out(n);
    switch (t.dtype) {
      case Dtype::F32:
        read_at(data_start_ + t.begin, out.data(), t.nbytes(), t.name);
        break;
      case Dtype::F16:
      case Dtype::BF16: {
        std::vector<uint16_t> raw(n);
        read_at(data_start_ + t.begin, raw.data(), t.nbytes(), t.name);
        for (std::size_t i = 0; i < n; ++i)
          out[i] = t.dtype == Dtype::F16 ? half_to_float(raw[i]) : bfloat16_to_float(raw[i]);
        break;
      }
      case Dtype::F64: {
        std::vector<double> raw(n);
        read_at(data_start_ + t.begin, raw.data(), t.nbytes(), t.name);
        for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(raw[i]);
        break;
      }
      default:
        throw IoError(detail::concat(source_, ": tensor ", detail::quoted(t.name), " has dtype ", dtype_name(t.dtype),
                                     ", not a floating-point type that converts to float32"));
    }
    return out;
  }
  std::vector<float> read_floats(std::string_view name) const { return read_floats(info(name)); }

  // An integer (or BOOL) tensor widened to int64, e.g. a step counter.
  std::vector<int64_t> read_int64(const TensorInfo& t) const {
    const auto n = static_cast<std::size_t>(t.numel());
    const std::vector<uint8_t> raw = read_bytes(t);
    std::vector<int64_t> out(n);
    auto load = [&]<class T>(T) {
      for (std::size_t i = 0; i < n; ++i) {
        T v;
        std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
        if constexpr (std::is_same_v<T, uint64_t>) {
          if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            throw IoError(detail::concat(source_, ": tensor ", detail::quoted(t.name), " holds the U64 value ", v,
                                         ", beyond int64"));
        }
        out[i] = static_cast<int64_t>(v);
      }
    };
    switch (t.dtype) {
      case Dtype::BOOL: case Dtype::U8: load(uint8_t{}); break;
      case Dtype::I8: load(int8_t{}); break;
      case Dtype::I16: load(int16_t{}); break;
      case Dtype::U16: load(uint16_t{}); break;
      case Dtype::I32: load(int32_t{}); break;
      case Dtype::U32: load(uint32_t{}); break;
      case Dtype::I64: load(int64_t{}); break;
      case Dtype::U64: load(uint64_t{}); break;
      default:
        throw IoError(detail::concat(source_, ": tensor ", detail::quoted(t.name), " has dtype ", dtype_name(t.dtype),
                                     ", not an integer type"));
    }
    return out;
  }
  std::vector<int64_t> read_int64(std::string_view name) const { return read_int64(info(name)); }

 private:
  SafetensorsReader() = default;
  void swap(SafetensorsReader& o) noexcept {
    std::swap(source_, o.source_);
    std::swap(fd_, o.fd_);
    std::swap(memory_, o.memory_);
    std::swap(size_, o.size_);
    std::swap(data_start_, o.data_start_);
    std::swap(header_, o.header_);
    std::swap(index_, o.index_);
  }

  void read_header() {
    if (size_ < 8)
      detail::header_error(source_, "the file has ", size_, " bytes, too few for the 8-byte header length");
    uint8_t len_bytes[8];
    read_at(0, len_bytes, 8, "the header length");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];  // little-endian, whatever the host
    if (n > kMaxHeaderBytes)
      detail::header_error(source_, "header length ", n, " exceeds the limit of ", kMaxHeaderBytes, " bytes");
    if (n > size_ - 8)
      detail::header_error(source_, "header length ", n, " reaches beyond the end of the file (", size_, " bytes)");
    std::string text(static_cast<std::size_t>(n), '\0');
    read_at(8, text.data(), n, "the header");
    data_start_ = 8 + n;
    header_ = parse_safetensors_header(text, size_ - data_start_, source_);
    for (std::size_t i = 0; i < header_.tensors.size(); ++i) index_.emplace(header_.tensors[i].name, i);
  }

  // Reads exactly n bytes at `offset`; a short read means the file shrank after it was opened.
  void read_at(uint64_t offset, void* dst, uint64_t n, const std::string& what) const {
    if (n == 0) return;
    if (fd_ < 0) {
      if (offset > memory_.size() || n > memory_.size() - offset)
        throw IoError(detail::concat(source_, ": reading ", what, " past the end of the buffer"));
      std::memcpy(dst, memory_.data() + offset, static_cast<std::size_t>(n));
      return;
    }
    auto* p = static_cast<char*>(dst);
    while (n > 0) {
      const ssize_t k = ::pread(fd_, p, static_cast<std::size_t>(n), static_cast<off_t>(offset));
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) throw IoError(detail::concat(source_, ": cannot read ", what, ": ", std::strerror(errno)));
      if (k == 0) throw IoError(detail::concat(source_, ": the file ended while reading ", what, " (truncated while open?)"));
      p += k;
      n -= static_cast<uint64_t>(k);
      offset += static_cast<uint64_t>(k);
    }
  }

  std::string source_;
  int fd_ = -1;
  std::vector<uint8_t> memory_;
  uint64_t size_ = 0;
  uint64_t data_start_ = 0;
  SafetensorsHeader header_;
  std::unordered_map<std::string, std::size_t> index_;
};

// ---- writing --------------------------------------------------------------------------------------

// A tensor to write: `data` points at numel x dtype_size(dtype) bytes of host memory in little-endian
// row-major order, and must stay valid until the write returns.
struct TensorRef {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
};

inline std::vector<int64_t> shape_dims(const Shape& s) {
  std::vector<int64_t> d;
  for (int i = 0; i < s.rank(); ++i) d.push_back(s[i]);
  return d;
}
inline TensorRef tensor_ref(std::string name, std::vector<int64_t> shape, const float* data) {
  return {std::move(name), Dtype::F32, std::move(shape), data};
}
inline TensorRef tensor_ref(std::string name, const Shape& shape, const float* data) {
  return {std::move(name), Dtype::F32, shape_dims(shape), data};
}
inline TensorRef tensor_ref(std::string name, std::vector<int64_t> shape, const int64_t* data) {
  return {std::move(name), Dtype::I64, std::move(shape), data};
}

namespace detail {

// Where every tensor goes and the header that says so.
struct SafetensorsPlan {
  std::string header;          // JSON, space-padded so that 8 + header.size() is a multiple of 8
  std::vector<std::size_t> order;  // indices into the caller's tensors, in data order
  std::vector<uint64_t> nbytes;    // per caller index
  uint64_t data_bytes = 0;
};

inline SafetensorsPlan plan_safetensors(const std::vector<TensorRef>& tensors, const Metadata& metadata,
                                        const std::string& target) {
  SafetensorsPlan plan;
  std::set<std::string_view> seen;
  plan.nbytes.resize(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorRef& t = tensors[i];
    SKN_REQUIRE(!t.name.empty() && t.name != "__metadata__", ValueError, target, ": cannot write a tensor named ",
                quoted(t.name));
    SKN_REQUIRE(seen.insert(t.name).second, ValueError, target, ": tensor ", quoted(t.name), " is listed twice");
    SKN_REQUIRE(t.shape.size() <= static_cast<std::size_t>(kMaxReadRank), ValueError, target, ": tensor ",
                quoted(t.name), " has rank ", t.shape.size(), " (at most ", kMaxReadRank, ")");
    uint64_t bytes = static_cast<uint64_t>(dtype_size(t.dtype));
    for (int64_t d : t.shape) {
      SKN_REQUIRE(d >= 0, ValueError, target, ": tensor ", quoted(t.name), " has a negative extent ", d);
      SKN_REQUIRE(!__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes), ValueError, target,
                  ": tensor ", quoted(t.name), " is too large");
    }
    SKN_REQUIRE(bytes == 0 || t.data != nullptr, ValueError, target, ": tensor ", quoted(t.name), " has no data");
    plan.nbytes[i] = bytes;
  }

  // Largest elements first keeps every tensor naturally aligned without padding between tensors
  // (the format allows no holes); stable, so the caller's order survives within a group.
  plan.order.resize(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) plan.order[i] = i;
  std::stable_sort(plan.order.begin(), plan.order.end(), [&](std::size_t a, std::size_t b) {
    return dtype_size(tensors[a].dtype) > dtype_size(tensors[b].dtype);
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  for (std::size_t i : plan.order) {
    const TensorRef& t = tensors[i];
    header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {plan.data_bytes, plan.data_bytes + plan.nbytes[i]}}};
    plan.data_bytes += plan.nbytes[i];
  }
  try {
    plan.header = header.dump();
  } catch (const nlohmann::json::exception& e) {  // a name or metadata string that is not UTF-8
    throw ValueError(concat(target, ": cannot write the safetensors header: ", e.what()));
  }
  plan.header.append((8 - (8 + plan.header.size()) % 8) % 8, ' ');
  return plan;
}

// Emits the file through `sink(const void*, size_t)`. With kill points, the test hook of
// atomic_file.hpp fires after the header and halfway through the data.
template <class Sink>
void emit_safetensors(const SafetensorsPlan& plan, const std::vector<TensorRef>& tensors, Sink&& sink,
                      bool kill_points) {
  uint8_t len[8];
  uint64_t n = plan.header.size();
  for (int i = 0; i < 8; ++i, n >>= 8) len[i] = static_cast<uint8_t>(n & 0xFF);
  sink(len, 8);
  sink(plan.header.data(), plan.header.size());
  if (kill_points) test_kill_point("after_header");

  const uint64_t half = plan.data_bytes / 2;
  uint64_t written = 0;
  bool mid_done = !kill_points;
  for (std::size_t i : plan.order) {
    const auto* p = static_cast<const uint8_t*>(tensors[i].data);
    uint64_t left = plan.nbytes[i];
    if (!mid_done && written + left >= half) {
      const uint64_t first = half - written;
      sink(p, static_cast<std::size_t>(first));
      test_kill_point("mid_data");
      mid_done = true;
      p += first;
      written += first;
      left -= first;
    }
    sink(p, static_cast<std::size_t>(left));
    written += left;
  }
  if (!mid_done) test_kill_point("mid_data");  // no data at all
}

}  // namespace detail

// The file's bytes in memory (tests, fuzzer seeds, sending over a wire).
inline std::vector<uint8_t> serialize_safetensors(const std::vector<TensorRef>& tensors, const Metadata& metadata = {}) {
  const auto plan = detail::plan_safetensors(tensors, metadata, "<memory>");
  std::vector<uint8_t> out;
  out.reserve(static_cast<std::size_t>(8 + plan.header.size() + plan.data_bytes));
  detail::emit_safetensors(
      plan, tensors,
      [&](const void* p, std::size_t n) {
        const auto* b = static_cast<const uint8_t*>(p);
        out.insert(out.end(), b, b + n);
      },
      false);
  return out;
}

// Writes `path` atomically: after a crash at any point, `path` holds either its previous contents or
// the complete new file.
inline void write_safetensors(const std::filesystem::path& path, const std::vector<TensorRef>& tensors,
                              const Metadata& metadata = {}) {
  const auto plan = detail::plan_safetensors(tensors, metadata, path.string());
  AtomicFile file(path);
  detail::emit_safetensors(plan, tensors, [&](const void* p, std::size_t n) { file.write(p, n); }, true);
  file.commit();
}

}  // namespace skinnet::io
