#pragma once
// Decoding and encoding images: JPEG, PNG and BMP in, PNG (and JPEG for fixtures) out, through stb.
//
// Every file passes the same front end before stb allocates anything:
//   1. size: empty files and files over ImageLimits::max_bytes are rejected;
//   2. format: the first bytes must be a JPEG, PNG or BMP signature (the extension is not trusted);
//   3. header: width, height and channels are read with stbi_info and checked against the limits, so a
//      header claiming 60000x60000 is refused without a 10 GB allocation;
//   4. completeness: stb tolerates some truncations (a JPEG that stops mid-scan decodes to grey rows,
//      a short BMP reads zeros), so skinnet checks the JPEG marker structure reaches its end-of-image
//      marker and that a BMP holds all its pixel rows;
//   5. decode to 8-bit RGB (grey, grey+alpha and RGBA converted, alpha dropped; 16-bit PNG scaled to 8).
// Errors name the file and say what is wrong: IoError for unreadable or corrupt files, DataError for
// readable images that break a limit.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/data/file_util.hpp"
#include "skinnet/data/image.hpp"
#include "skinnet/data/stb.hpp"

namespace skinnet {

// What an image may be before skinnet agrees to decode it. The defaults admit any dermoscopy or
// clinical photograph (originals go up to about 6000x4000) and refuse thumbnails, banners and bombs.
struct ImageLimits {
  std::uintmax_t max_bytes = 64ull << 20;  // file size
  int64_t max_pixels = 64ll << 20;         // width * height (about 8000x8000)
  int max_side = 16384;                    // longest side
  int min_side = 8;                        // shortest side: 1x1 pixels and 1-pixel lines are not photos
  double max_aspect = 10.0;                // longest / shortest side
};

enum class ImageFormat { Unknown, Jpeg, Png, Bmp };

inline const char* format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::Jpeg: return "JPEG";
    case ImageFormat::Png: return "PNG";
    case ImageFormat::Bmp: return "BMP";
    default: return "unknown";
  }
}

// What the header says, read without decoding pixels.
struct ImageInfo {
  ImageFormat format = ImageFormat::Unknown;
  int width = 0;
  int height = 0;
  int channels = 0;        // in the file: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
  bool sixteen_bit = false;
};

namespace image_detail {

inline ImageFormat sniff(const uint8_t* d, std::size_t n) {
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return ImageFormat::Jpeg;
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (n >= 8 && std::memcmp(d, png_sig, 8) == 0) return ImageFormat::Png;
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return ImageFormat::Bmp;
  return ImageFormat::Unknown;
}

// A short description of content that is not an image, for the error message.
inline std::string describe_unknown(const uint8_t* d, std::size_t n) {
  std::size_t printable = 0;
  const std::size_t look = n < 64 ? n : 64;
  for (std::size_t i = 0; i < look; ++i)
    if ((d[i] >= 0x20 && d[i] < 0x7F) || d[i] == '\n' || d[i] == '\r' || d[i] == '\t') ++printable;
  if (look > 0 && printable == look) return "the content is text, not a JPEG, PNG or BMP image";
  std::string s = "not a JPEG, PNG or BMP image (starts with bytes";
  static const char* hex = "0123456789abcdef";
  for (std::size_t i = 0; i < n && i < 4; ++i) {
    s += ' ';
    s += hex[d[i] >> 4];
    s += hex[d[i] & 15];
  }
  return s + ")";
}

// Checks the Huffman tables of the DHT segment whose length field is at d[at] (`len` bytes from there),
// reading them exactly as stb_image does: stb takes each table's 16 code counts from wherever its running
// segment length says a table starts, even when those bytes lie past the segment's end or the file's
// end (it reads zeros there), and fills its 257-entry size table before it checks anything. So the
// counts are summed over the same bytes here, zeros past the end included (a fuzzer finding: a second
// table whose counts were cut off by the end of the file). A table that does not fit its segment is
// refused when the segment is complete; an incomplete one is refused later as truncated.
inline std::string dht_check(const uint8_t* d, std::size_t n, std::size_t at, std::size_t len) {
  const std::size_t end = at + len;
  const bool complete = end <= n;
  for (std::size_t p = at + 2; p < end && p < n;) {
    std::size_t symbols = 0;
    for (std::size_t k = p + 1; k <= p + 16 && k < n; ++k) symbols += d[k];
    if (symbols > 256) return "corrupt JPEG (Huffman table with more than 256 codes)";
    if (complete && p + 17 > end) return "corrupt JPEG (Huffman table header cut short)";
    p += 17 + symbols;
    if (complete && p > end) return "corrupt JPEG (Huffman table longer than its segment)";
  }
  return {};
}

// Walks a JPEG's marker segments from SOI. Entropy-coded data after SOS is skipped up to the next
// marker that is neither a stuffed 0xFF00 nor a restart marker; embedded thumbnails live inside APPn
// segments, which are skipped by their length, so their EOI does not count. Returns an empty string
// when the walk reaches EOI (or, with `prefix_only`, runs out of the bytes given without an error),
// else what is wrong.
//
// It also validates every DHT (Huffman table) segment: the stb_image in Debian bookworm
// (2.27, git 2022-09) writes past its 257-entry size table when a table's 16 code counts sum to more
// than 256 (found by fuzz/fuzz_image.cpp: UBSan "index 257 out of bounds" in stbi__build_huffman), so
// such files are refused here before stb sees them.
inline std::string jpeg_check(const uint8_t* d, std::size_t n, bool prefix_only = false) {
  const char* truncated = "truncated or corrupt JPEG (the marker structure ends before the end-of-image marker)";
  std::size_t i = 2;  // after FF D8
  while (i + 1 < n) {
    if (d[i] != 0xFF) return "corrupt JPEG (expected a marker)";
    const uint8_t m = d[i + 1];
    if (m == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    i += 2;
    if (m == 0xD9) return {};                               // EOI
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;    // TEM, RSTn: no length
    if (i + 1 >= n) return prefix_only ? std::string() : truncated;
    const std::size_t len = (static_cast<std::size_t>(d[i]) << 8) | d[i + 1];
    if (len < 2) return "corrupt JPEG (segment length below 2)";
    if (m == 0xC4)  // DHT: one or more tables of 1 + 16 + sum(counts) bytes
      if (std::string bad = dht_check(d, n, i, len); !bad.empty()) return bad;
    if (i + len > n) return prefix_only ? std::string() : truncated;
    i += len;
    if (m == 0xDA) {  // SOS: skip entropy-coded data
      while (i + 1 < n) {
        if (d[i] == 0xFF && d[i + 1] != 0x00 && !(d[i + 1] >= 0xD0 && d[i + 1] <= 0xD7) && d[i + 1] != 0xFF) break;
        ++i;
      }
      while (i + 1 < n && d[i] == 0xFF && d[i + 1] == 0xFF) ++i;  // fill bytes before the marker
    }
  }
  return prefix_only ? std::string() : truncated;
}

inline uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}

// True when an uncompressed BMP holds every pixel row its header promises (stb reads zeros past the
// end of a short file instead of failing). Compressed BMPs are left to stb.
inline bool bmp_is_complete(const uint8_t* d, std::size_t n, int width, int height) {
  if (n < 30) return false;
  const uint64_t offset = le32(d + 10);
  const uint32_t header_size = le32(d + 14);
  if (header_size < 40 || n < 34) return true;  // OS/2 headers: let stb decide
  const uint16_t bpp = static_cast<uint16_t>(d[28] | (d[29] << 8));
  const uint32_t compression = le32(d + 30);
  if (compression != 0 && compression != 3) return true;
  const uint64_t row = (static_cast<uint64_t>(width) * bpp + 31) / 32 * 4;
  return offset + row * static_cast<uint64_t>(height) <= n;
}

inline uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// A copy of a PNG without its empty IDAT chunks, or an empty vector when it has none. stb_image 2.27
// copies a zero-length first IDAT into its not-yet-allocated buffer (memcpy to a null pointer:
// undefined behaviour, found by fuzz/fuzz_image.cpp); an empty IDAT carries no data, so dropping it
// changes nothing else. Chunks are walked by their length fields; the walk stops at IEND or at a chunk
// that runs past the end (stb reports that one).
inline std::vector<uint8_t> png_without_empty_idat(const uint8_t* d, std::size_t n) {
  std::vector<std::pair<std::size_t, std::size_t>> drop;  // [begin, end) of each empty IDAT chunk
  for (std::size_t p = 8; p + 12 <= n;) {
    const std::size_t len = be32(d + p);
    if (len > n - p - 12) break;
    if (len == 0 && std::memcmp(d + p + 4, "IDAT", 4) == 0) drop.emplace_back(p, p + 12);
    if (std::memcmp(d + p + 4, "IEND", 4) == 0) break;
    p += 12 + len;
  }
  std::vector<uint8_t> out;
  if (drop.empty()) return out;
  out.reserve(n);
  std::size_t from = 0;
  for (const auto& [b, e] : drop) {
    out.insert(out.end(), d + from, d + b);
    from = e;
  }
  out.insert(out.end(), d + from, d + n);
  return out;
}

// Empty when every chunk of a PNG (up to IEND) fits in the file, else what is wrong. stb_image 2.27
// grows its IDAT buffer to a chunk's declared length before reading the chunk, so a few-byte file
// claiming a 2 GB IDAT made it allocate 2 GB (found by fuzz/fuzz_image.cpp) only to find the data
// missing. A chunk running past the end means a truncated or corrupt file, which stb would refuse
// anyway; refusing it first costs one walk over the chunk headers and says where the file breaks.
inline std::string png_check(const uint8_t* d, std::size_t n) {
  for (std::size_t p = 8; p + 8 <= n;) {
    const std::size_t len = be32(d + p);
    const std::size_t room = n - p - 8;  // bytes after the length and type fields
    if (len > room) {
      std::string type(reinterpret_cast<const char*>(d + p + 4), 4);
      for (char& ch : type)
        if (ch < 0x20 || ch > 0x7e) ch = '?';
      return detail::concat("truncated or corrupt PNG: chunk '", type, "' at byte ", p, " declares ", len,
                            " data bytes but only ", room, " remain in the file");
    }
    if (std::memcmp(d + p + 4, "IEND", 4) == 0) return {};
    p += 12 + len;
  }
  return {};  // no room for another chunk header: stb reports the missing IEND
}

// Width and height straight from a PNG IHDR or a BMP info header, before stb sees the file: stb
// refuses very large images with a generic "unknown image type", and skinnet wants to say which size
// broke which limit. JPEG sizes are 16-bit and come from stb's header reader.
inline bool early_dimensions(ImageFormat f, const uint8_t* d, std::size_t n, int64_t& w, int64_t& h) {
  if (f == ImageFormat::Png && n >= 24 && std::memcmp(d + 12, "IHDR", 4) == 0) {
    w = be32(d + 16);
    h = be32(d + 20);
    return true;
  }
  if (f == ImageFormat::Bmp && n >= 26 && le32(d + 14) >= 40) {
    w = static_cast<int32_t>(le32(d + 18));
    h = static_cast<int32_t>(le32(d + 22));
    if (h < 0) h = -h;  // top-down BMP
    return true;
  }
  return false;
}

struct StbFree {
  void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

inline void check_limits(const std::string& name, int64_t w, int64_t h, const ImageLimits& lim) {
  const int64_t lo = w < h ? w : h;
  const int64_t hi = w < h ? h : w;
  // Header fields are up to 32 bits each (PNG), so the product is taken in 64-bit unsigned arithmetic.
  const uint64_t pixels = static_cast<uint64_t>(w) * static_cast<uint64_t>(h);
  SKN_REQUIRE(lo >= lim.min_side, DataError, name, ": image is ", w, "x", h, ", smaller than the minimum side of ",
              lim.min_side, " pixels");
  SKN_REQUIRE(pixels <= static_cast<uint64_t>(lim.max_pixels), DataError, name, ": image is ", w, "x", h, " (", pixels,
              " pixels), over the limit of ", lim.max_pixels, " pixels");
  SKN_REQUIRE(hi <= lim.max_side, DataError, name, ": image is ", w, "x", h, ", over the maximum side of ",
              lim.max_side, " pixels");
  SKN_REQUIRE(static_cast<double>(hi) <= lim.max_aspect * static_cast<double>(lo), DataError, name, ": image is ", w,
              "x", h, ", aspect ratio over the limit of ", lim.max_aspect);
}
inline void check_limits(const std::string& name, const ImageInfo& info, const ImageLimits& lim) {
  check_limits(name, info.width, info.height, lim);
}

}  // namespace image_detail

// Header fields of an in-memory file, after steps 1-3 of the front end (no pixels decoded).
// `name` is used in error messages (normally the file's path).
inline ImageInfo probe_image_memory(const uint8_t* data, std::size_t size, const std::string& name,
                                    const ImageLimits& limits = {}) {
  using namespace image_detail;
  SKN_REQUIRE(size > 0, IoError, name, ": file is empty (0 bytes)");
  SKN_REQUIRE(size <= limits.max_bytes, DataError, name, ": file is ", size, " bytes, over the limit of ",
              limits.max_bytes, " bytes");
  SKN_REQUIRE(size <= static_cast<std::size_t>(INT32_MAX), DataError, name, ": file is too large for the decoder");
  ImageInfo info;
  info.format = sniff(data, size);
  SKN_REQUIRE(info.format != ImageFormat::Unknown, IoError, name, ": ", describe_unknown(data, size));
  if (int64_t w = 0, h = 0; early_dimensions(info.format, data, size, w, h)) check_limits(name, w, h, limits);
  if (info.format == ImageFormat::Jpeg)  // stb must not see a malformed Huffman table, even for a header read
    if (const std::string bad = jpeg_check(data, size, true); !bad.empty()) throw IoError(name + ": " + bad);
  const int len = static_cast<int>(size);
  if (!stbi_info_from_memory(data, len, &info.width, &info.height, &info.channels))
    throw IoError(detail::concat(name, ": corrupt or truncated ", format_name(info.format), " header (",
                                 stbi_failure_reason(), ")"));
  info.sixteen_bit = stbi_is_16_bit_from_memory(data, len) != 0;
  check_limits(name, info, limits);
  return info;
}

// Reads only the start of a file (256 KB, more only when a JPEG's frame header lies beyond it) and
// checks it like steps 1-3 above. Fast: used to index large datasets; it does not detect truncated pixel
// data — decode for that.
inline ImageInfo probe_image(const fs::path& path, const ImageLimits& limits = {}) {
  const std::string name = display_path(path);
  std::error_code ec;
  SKN_REQUIRE(fs::is_regular_file(path, ec), IoError, name, ": file not found");
  const std::uintmax_t size = fs::file_size(path, ec);
  SKN_REQUIRE(!ec, IoError, name, ": cannot read its size: ", ec.message());
  SKN_REQUIRE(size > 0, IoError, name, ": file is empty (0 bytes)");
  SKN_REQUIRE(size <= limits.max_bytes, DataError, name, ": file is ", size, " bytes, over the limit of ",
              limits.max_bytes, " bytes");
  constexpr std::size_t kPrefix = 256 * 1024;
  if (size > kPrefix) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    SKN_REQUIRE(f != nullptr, IoError, name, ": cannot open: ", std::strerror(errno));
    std::vector<uint8_t> head(kPrefix);
    const std::size_t got = std::fread(head.data(), 1, head.size(), f);
    std::fclose(f);
    head.resize(got);
    try {
      return probe_image_memory(head.data(), head.size(), name, limits);
    } catch (const IoError&) {
      // e.g. a JPEG whose frame header follows a large EXIF block: read the whole file below
    }
  }
  const auto bytes = read_file_bytes(path, limits.max_bytes);
  return probe_image_memory(bytes.data(), bytes.size(), name, limits);
}

// Decodes an in-memory JPEG/PNG/BMP file to 8-bit RGB after the full front end above.
inline Image decode_image(const uint8_t* data, std::size_t size, const std::string& name,
                          const ImageLimits& limits = {}) {
  using namespace image_detail;
  const ImageInfo info = probe_image_memory(data, size, name, limits);
  if (info.format == ImageFormat::Jpeg)
    if (const std::string bad = jpeg_check(data, size); !bad.empty()) throw IoError(name + ": " + bad);
  if (info.format == ImageFormat::Bmp)
    SKN_REQUIRE(bmp_is_complete(data, size, info.width, info.height), IoError, name,
                ": truncated BMP (the file is shorter than its pixel rows)");
  std::vector<uint8_t> cleaned;
  if (info.format == ImageFormat::Png) {
    if (const std::string bad = png_check(data, size); !bad.empty()) throw IoError(name + ": " + bad);
    cleaned = png_without_empty_idat(data, size);
  }
  const uint8_t* src = cleaned.empty() ? data : cleaned.data();
  const std::size_t src_size = cleaned.empty() ? size : cleaned.size();
  int w = 0, h = 0, c = 0;
  detail::stb_failed_check = nullptr;
  std::unique_ptr<stbi_uc, StbFree> px(stbi_load_from_memory(src, static_cast<int>(src_size), &w, &h, &c, 3));
  if (detail::stb_failed_check)
    throw IoError(detail::concat(name, ": corrupt ", format_name(info.format),
                                 " data (the decoder's consistency check failed: ", detail::stb_failed_check, ")"));
  if (!px)
    throw IoError(detail::concat(name, ": cannot decode ", format_name(info.format), " (", stbi_failure_reason(),
                                 "; the file is truncated or corrupt)"));
  SKN_REQUIRE(w == info.width && h == info.height, IoError, name, ": decoded size ", w, "x", h,
              " differs from the header's ", info.width, "x", info.height);
  Image img(w, h);
  std::memcpy(img.pixels.data(), px.get(), img.bytes());
  return img;
}

inline Image decode_image(const std::vector<uint8_t>& bytes, const std::string& name, const ImageLimits& limits = {}) {
  return decode_image(bytes.data(), bytes.size(), name, limits);
}

inline Image read_image(const fs::path& path, const ImageLimits& limits = {}) {
  const auto bytes = read_file_bytes(path, limits.max_bytes);
  return decode_image(bytes, display_path(path), limits);
}

// ---- encoding ------------------------------------------------------------------------------------

namespace image_detail {
inline void append_bytes(void* ctx, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(ctx);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}
inline void check_encodable(const Image& img, const char* what) {
  SKN_REQUIRE(img.width > 0 && img.height > 0 &&
                  img.pixels.size() == static_cast<std::size_t>(img.width) * img.height * Image::kChannels,
              ValueError, what, ": image is ", img.width, "x", img.height, " with ", img.pixels.size(),
              " bytes of pixels");
}
}  // namespace image_detail

inline std::vector<uint8_t> encode_png(const Image& img) {
  image_detail::check_encodable(img, "encode_png");
  std::vector<uint8_t> out;
  const int ok = stbi_write_png_to_func(image_detail::append_bytes, &out, img.width, img.height, Image::kChannels,
                                        img.pixels.data(), img.width * Image::kChannels);
  SKN_REQUIRE(ok != 0, IoError, "encode_png: stb_image_write failed for a ", img.width, "x", img.height, " image");
  return out;
}

inline std::vector<uint8_t> encode_jpeg(const Image& img, int quality = 92) {
  image_detail::check_encodable(img, "encode_jpeg");
  std::vector<uint8_t> out;
  const int ok = stbi_write_jpg_to_func(image_detail::append_bytes, &out, img.width, img.height, Image::kChannels,
                                        img.pixels.data(), quality);
  SKN_REQUIRE(ok != 0, IoError, "encode_jpeg: stb_image_write failed for a ", img.width, "x", img.height, " image");
  return out;
}

inline void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  SKN_REQUIRE(f != nullptr, IoError, display_path(path), ": cannot create: ", std::strerror(errno));
  const std::size_t put = bytes.empty() ? 0 : std::fwrite(bytes.data(), 1, bytes.size(), f);
  const bool closed = std::fclose(f) == 0;
  SKN_REQUIRE(put == bytes.size() && closed, IoError, display_path(path), ": write failed after ", put, " of ",
              bytes.size(), " bytes");
}

inline void write_png(const fs::path& path, const Image& img) { write_bytes(path, encode_png(img)); }
inline void write_jpeg(const fs::path& path, const Image& img, int quality = 92) {
  write_bytes(path, encode_jpeg(img, quality));
}

}  // namespace skinnet
