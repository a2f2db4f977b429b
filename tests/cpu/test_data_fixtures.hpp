#pragma once
// Helpers for the data tests: a self-deleting temporary directory, fixture images written with
// stb_image_write, a minimal hand-written PNG encoder (for 16-bit files and forged headers, which
// stb_image_write cannot produce), and the location of the optional real datasets.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "skinnet/data/image_io.hpp"

namespace fixtures {

namespace fs = std::filesystem;
using skinnet::Image;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("skinnet_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& s) const { return path_ / s; }

 private:
  fs::path path_;
};

// A deterministic test picture: smooth gradients plus a per-`tag` offset, so different tags give
// different bytes.
inline Image pattern(int w, int h, int tag = 0) {
  Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.at(x, y);
      p[0] = static_cast<uint8_t>((x * 255) / (w > 1 ? w - 1 : 1));
      p[1] = static_cast<uint8_t>((y * 255) / (h > 1 ? h - 1 : 1));
      p[2] = static_cast<uint8_t>((x * 7 + y * 13 + tag * 37) % 256);
    }
  return img;
}

inline void write_file(const fs::path& p, const std::vector<uint8_t>& bytes) {
  fs::create_directories(p.parent_path());
  skinnet::write_bytes(p, bytes);
}
inline void write_text(const fs::path& p, const std::string& s) { write_file(p, std::vector<uint8_t>(s.begin(), s.end())); }
inline std::vector<uint8_t> read_all(const fs::path& p) { return skinnet::read_file_bytes(p); }

inline std::vector<uint8_t> png_bytes(const Image& img) { return skinnet::encode_png(img); }
inline std::vector<uint8_t> jpeg_bytes(const Image& img, int q = 90) { return skinnet::encode_jpeg(img, q); }

// stb_image_write with an arbitrary channel count (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA).
inline std::vector<uint8_t> png_channels(int w, int h, int comp, const std::vector<uint8_t>& px) {
  std::vector<uint8_t> out;
  stbi_write_png_to_func(
      [](void* ctx, void* data, int size) {
        auto* o = static_cast<std::vector<uint8_t>*>(ctx);
        o->insert(o->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
      },
      &out, w, h, comp, px.data(), w * comp);
  return out;
}
inline std::vector<uint8_t> bmp_bytes(const Image& img) {
  std::vector<uint8_t> out;
  stbi_write_bmp_to_func(
      [](void* ctx, void* data, int size) {
        auto* o = static_cast<std::vector<uint8_t>*>(ctx);
        o->insert(o->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
      },
      &out, img.width, img.height, 3, img.pixels.data());
  return out;
}

// ---- a minimal PNG writer: IHDR + one IDAT of stored (uncompressed) deflate blocks + IEND ----------
inline uint32_t crc32(const uint8_t* d, std::size_t n, uint32_t crc = 0) {
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= d[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}
inline void put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<uint8_t>(x >> s));
}
inline void chunk(std::vector<uint8_t>& png, const char* type, const std::vector<uint8_t>& data) {
  put32(png, static_cast<uint32_t>(data.size()));
  std::vector<uint8_t> body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  png.insert(png.end(), body.begin(), body.end());
  put32(png, crc32(body.data(), body.size()));
}
// `raw`: filtered scanlines (each row starts with filter byte 0). Pass an empty `raw` to forge a file
// whose header promises pixels it does not hold.
inline std::vector<uint8_t> handmade_png(uint32_t w, uint32_t h, uint8_t bit_depth, uint8_t colour_type,
                                         const std::vector<uint8_t>& raw) {
  std::vector<uint8_t> png{0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  std::vector<uint8_t> ihdr;
  put32(ihdr, w);
  put32(ihdr, h);
  ihdr.insert(ihdr.end(), {bit_depth, colour_type, 0, 0, 0});
  chunk(png, "IHDR", ihdr);
  std::vector<uint8_t> z{0x78, 0x01};  // zlib header, no compression
  std::size_t pos = 0;
  do {
    const std::size_t len = std::min<std::size_t>(65535, raw.size() - pos);
    const bool last = pos + len == raw.size();
    z.push_back(last ? 1 : 0);
    z.push_back(static_cast<uint8_t>(len));
    z.push_back(static_cast<uint8_t>(len >> 8));
    z.push_back(static_cast<uint8_t>(~len));
    z.push_back(static_cast<uint8_t>((~len) >> 8));
    z.insert(z.end(), raw.begin() + static_cast<std::ptrdiff_t>(pos), raw.begin() + static_cast<std::ptrdiff_t>(pos + len));
    pos += len;
  } while (pos < raw.size());
  uint32_t a = 1, b = 0;  // Adler-32
  for (uint8_t x : raw) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  put32(z, (b << 16) | a);
  chunk(png, "IDAT", z);
  chunk(png, "IEND", {});
  return png;
}
// A 16-bit RGB PNG whose 8-bit value (high byte) of every sample is known.
inline std::vector<uint8_t> png16(const Image& img) {
  std::vector<uint8_t> raw;
  for (int y = 0; y < img.height; ++y) {
    raw.push_back(0);
    for (int x = 0; x < img.width; ++x)
      for (int c = 0; c < 3; ++c) {
        raw.push_back(img.at(x, y)[c]);  // high byte
        raw.push_back(0x80);             // low byte
      }
  }
  return handmade_png(static_cast<uint32_t>(img.width), static_cast<uint32_t>(img.height), 16, 2, raw);
}

// ---- real data (optional) ------------------------------------------------------------------------
// SKINNET_DATA_DIR (set by ctest to ../shared/data) or, when unset, ../shared/data from the repository
// root (derived from this file's location). Empty when the folder does not hold `sub`.
inline fs::path real_data(const std::string& sub) {
  fs::path root;
  if (const char* env = std::getenv("SKINNET_DATA_DIR"); env && *env) root = env;
  else root = fs::absolute(fs::path(__FILE__)).parent_path().parent_path().parent_path().parent_path() / "shared" / "data";
  std::error_code ec;
  return fs::is_directory(root / sub, ec) ? root / sub : fs::path();
}

}  // namespace fixtures

// Real-data tests are declared `TEST_CASE("..." * doctest::skip(fixtures::no_real_data("sub")))`: the
// decorator is evaluated when the test binary starts, so a missing dataset makes doctest report the
// test as skipped (never as passed). The body then REQUIREs the folder, so forcing the test with
// --no-skip on a machine without the data fails instead of passing silently.
namespace fixtures {
inline bool no_real_data(const std::string& sub) { return real_data(sub).empty(); }
}  // namespace fixtures
