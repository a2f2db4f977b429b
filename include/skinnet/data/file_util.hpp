#pragma once
// Small filesystem helpers shared by the data pipeline: reading a whole file with a size cap, showing a
// path in an error message even when its name is not valid UTF-8, and recognising image extensions.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "skinnet/core/error.hpp"

namespace skinnet {

namespace fs = std::filesystem;

// The path as bytes, with every byte that is not part of a valid UTF-8 sequence (or is a control
// character) written as \xNN, so a message about a file with a Latin-1 or corrupt name stays printable
// and still identifies the file.
inline std::string display_path(const fs::path& p) {
  const std::string raw = p.string();
  std::string out;
  out.reserve(raw.size());
  auto hex = [&](unsigned char c) {
    static const char* digits = "0123456789abcdef";
    out += "\\x";
    out += digits[c >> 4];
    out += digits[c & 15];
  };
  for (std::size_t i = 0; i < raw.size();) {
    const auto c = static_cast<unsigned char>(raw[i]);
    int len = 0;
    if (c < 0x80) len = 1;
    else if ((c & 0xE0) == 0xC0 && c >= 0xC2) len = 2;
    else if ((c & 0xF0) == 0xE0) len = 3;
    else if ((c & 0xF8) == 0xF0 && c <= 0xF4) len = 4;
    bool valid = len > 0 && i + static_cast<std::size_t>(len) <= raw.size();
    for (int k = 1; valid && k < len; ++k) valid = (static_cast<unsigned char>(raw[i + k]) & 0xC0) == 0x80;
    if (!valid) {
      hex(c);
      ++i;
    } else if (len == 1 && (c < 0x20 || c == 0x7F)) {
      hex(c);
      ++i;
    } else {
      out.append(raw, i, static_cast<std::size_t>(len));
      i += static_cast<std::size_t>(len);
    }
  }
  return out;
}

inline std::string to_lower(std::string_view s) {
  std::string r(s);
  for (char& c : r)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return r;
}

// Extensions the decoder accepts (case-insensitive). Files with other extensions inside a dataset
// folder are listed as ignored, never decoded.
inline bool has_image_extension(const fs::path& p) {
  const std::string ext = to_lower(p.extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

// Reads a whole file. The size is checked against `max_bytes` before anything is allocated.
inline std::vector<uint8_t> read_file_bytes(const fs::path& path, std::uintmax_t max_bytes = UINTMAX_MAX) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  SKN_REQUIRE(!ec && fs::exists(status), IoError, display_path(path), ": file not found");
  SKN_REQUIRE(!fs::is_directory(status), IoError, display_path(path), ": is a directory, not a file");
  const std::uintmax_t size = fs::file_size(path, ec);
  SKN_REQUIRE(!ec, IoError, display_path(path), ": cannot read its size: ", ec.message());
  SKN_REQUIRE(size <= max_bytes, DataError, display_path(path), ": file is ", size,
              " bytes, over the limit of ", max_bytes, " bytes");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  SKN_REQUIRE(f != nullptr, IoError, display_path(path), ": cannot open: ", std::strerror(errno));
  std::vector<uint8_t> bytes(static_cast<std::size_t>(size));
  const std::size_t got = size ? std::fread(bytes.data(), 1, bytes.size(), f) : 0;
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  SKN_REQUIRE(!failed && got == bytes.size(), IoError, display_path(path), ": read error after ", got, " of ",
              size, " bytes");
  return bytes;
}

inline std::string read_text_file(const fs::path& path, std::uintmax_t max_bytes = (std::uintmax_t{1} << 31)) {
  const auto bytes = read_file_bytes(path, max_bytes);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace skinnet
