// The bad-input corpus: broken files and broken label files, generated here, each of which must get its
// documented error (message naming the file and the problem) or be skipped and counted — never a crash
// and never a silent acceptance.
#include <doctest/doctest.h>

#include <map>

#include "skinnet/data/csv_dataset.hpp"
#include "skinnet/data/folder_dataset.hpp"
#include "skinnet/data/scan.hpp"
#include "test_data_fixtures.hpp"

using namespace skinnet;
using fixtures::TempDir;

namespace {

struct FileCase {
  std::string name;                // file name inside the class folder
  std::vector<uint8_t> bytes;
  std::string expect;              // substring of the error; empty = must load
};

// The fuzzer findings, byte for byte (found by libFuzzer; each crashed stb_image 2.27 under ASan/UBSan,
// or made it allocate gigabytes, before the front end refused or repaired them).
std::vector<uint8_t> jpeg_dht_cut_by_eof() {
  return {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
          0x00, 0x00, 0xff, 0xdb, 0x00, 0x84, 0x00, 0x06, 0x04, 0x05, 0x06, 0x05, 0x04, 0x06, 0x06, 0x05, 0x06, 0x07,
          0x07, 0x06, 0x08, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0xff, 0xff, 0xff, 0xff, 0xd8, 0x38, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00,
          0x00, 0x01, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3e, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1a, 0x1b, 0x23, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xdb,
          0x00, 0x3f, 0x84, 0x00, 0x06, 0x04, 0x05, 0x06, 0x05, 0x04, 0x06, 0x06, 0x05, 0x06, 0x07, 0x07, 0x06, 0x08,
          0x0a, 0x10, 0x0a, 0x0a, 0x38, 0x09, 0x09, 0x0a, 0x14, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc4,
          0x01, 0xa2, 0x00, 0x00, 0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
          0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
          0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd1, 0x7e};
}
std::vector<uint8_t> png_empty_idat_then_garbage() {
  return {0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
          0x00, 0x0c, 0x00, 0x00, 0x00, 0x0a, 0x08, 0x02, 0x00, 0x00, 0x00, 0x0f, 0x4e, 0x28, 0xad, 0x00, 0x00, 0x00,
          0x00, 0x49, 0x44, 0x41, 0x54, 0x78, 0x5e, 0x9f, 0x64, 0x60, 0xe7, 0x13, 0x25, 0x04, 0x98, 0xfe, 0x10, 0x01,
          0x46, 0x15, 0xfd, 0x21, 0x2a, 0x08, 0x9e, 0x4b, 0x47, 0x00, 0x60, 0x61, 0x00, 0x00, 0x70, 0x61, 0x00, 0x00,
          0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
}

// A 683-byte JPEG (CI fuzz stage, 2026-12-04) whose entropy-coded data meets a Huffman code outside its
// table: stb_image 2.27 then compared against table entries it never initialised, and its assert in
// stbi__jpeg_huff_decode aborted the fuzzer. Whether that check failed depended on what the heap held
// before. Now stb's allocations are zeroed (skinnet/data/stb.hpp), so the decode goes the same way every
// time: the zeroed entries pass the check and the decoder stops at the bytes that follow, which are
// not a marker. (A failed check would be reported as "the decoder's consistency check failed".)
std::vector<uint8_t> jpeg_huffman_code_mismatch() {
  return {
          0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
          0x00, 0x00, 0xff, 0xdb, 0x00, 0x84, 0x00, 0x06, 0x04, 0x05, 0x06, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
          0x00, 0x06, 0x08, 0x0a, 0x10, 0x0a, 0x0a, 0x09, 0x09, 0x0a, 0x14, 0x0e, 0x0f, 0x0c, 0x10, 0x17, 0x14, 0x00,
          0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1a, 0x1b, 0x23, 0x1c, 0x16, 0x16, 0x20, 0x2c, 0x20,
          0x23, 0x26, 0x27, 0x29, 0x2a, 0x29, 0x19, 0x1f, 0x2d, 0x2a, 0x2d, 0x28, 0x30, 0x25, 0x28, 0x29, 0x28, 0x01,
          0x07, 0x07, 0x07, 0x0a, 0x08, 0x0a, 0x13, 0x0a, 0x1a, 0x16, 0x0a, 0x28, 0x28, 0x1a, 0x13, 0x28, 0x28, 0x28,
          0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28,
          0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28,
          0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x0a, 0x00,
          0x0c, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xc4, 0x01, 0xa2, 0x00, 0x00, 0x01,
          0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03,
          0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x03, 0x00, 0x02, 0x01, 0x03, 0x03, 0x02, 0x04, 0x03, 0x05,
          0x05, 0x04, 0x04, 0x00, 0x00, 0x01, 0x7d, 0x01, 0x00, 0x03, 0x02, 0x04, 0x11, 0x05, 0x12, 0x21, 0x30, 0x41,
          0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x25, 0x1e, 0x41, 0x3a, 0x33, 0x56, 0x4f, 0x48, 0x6b, 0x64, 0x5d,
          0x80, 0x79, 0x72, 0x95, 0x8e, 0x87, 0xaa, 0xa3, 0x9c, 0xbf, 0xb8, 0xb1, 0xd4, 0xcd, 0xc6, 0xe9, 0xe2, 0xdb,
          0x06, 0xff, 0xf8, 0x1b, 0x14, 0x0d, 0x30, 0x29, 0x22, 0x45, 0x3e, 0x37, 0x5a, 0x53, 0x4c, 0x6f, 0x68, 0x61,
          0x84, 0x7d, 0x76, 0x99, 0x92, 0x8b, 0xae, 0xa7, 0xa0, 0xc3, 0xbc, 0xb5, 0xd8, 0xd1, 0xca, 0xed, 0xe6, 0xdf,
          0x0a, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x86, 0x92, 0x87, 0x89, 0x8a, 0x88, 0x93, 0x94, 0x95,
          0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5,
          0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5,
          0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3,
          0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0x01, 0x00, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
          0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
          0x11, 0x00, 0x02, 0x01, 0x02, 0x04, 0x04, 0x03, 0x04, 0x07, 0x05, 0x04, 0x04, 0x00, 0x01, 0x02, 0x77, 0x00,
          0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32,
          0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a,
          0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37,
          0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
          0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x70, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82,
          0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2,
          0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2,
          0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0x26, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2,
          0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xff,
          0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3f, 0x00, 0xf7, 0xf8, 0xf9, 0xfa, 0xff,
          0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3f, 0x00, 0xe3, 0xf4, 0x88, 0xa2, 0xd1,
          0x7e, 0x21, 0x6b, 0xfa, 0x6d, 0xb4, 0x62, 0x1b, 0x6b, 0x5d, 0x4a, 0x78, 0xa1, 0x8c, 0x05, 0x00, 0x00, 0x00,
          0x00, 0x00, 0x00, 0x00, 0xe2, 0x0c, 0x71, 0xff, 0x00, 0x1e, 0xa7, 0xff, 0x00, 0x25, 0x62, 0xaf, 0x69, 0xf0,
          0xc9, 0x3f, 0xd9, 0x10, 0xf2, 0x6a, 0xe1, 0x1e, 0x58, 0xa4, 0x76, 0x66, 0x6c, 0x9b, 0x47, 0xff, 0xd9};
}

// A 149-byte PNG whose second IDAT declares 1,768,384,536 bytes: stb 2.27 grew its buffer to that size
// before finding the data missing (libFuzzer out-of-memory, CI fuzz stage).
std::vector<uint8_t> png_idat_claims_gigabytes() {
  return {
          0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
          0x00, 0x0c, 0x00, 0x00, 0x00, 0x0a, 0x08, 0x06, 0x00, 0x00, 0x00, 0x80, 0x2c, 0xbf, 0xfa, 0x00, 0x00, 0x00,
          0x1a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x5e, 0x63, 0x4c, 0x01, 0x02, 0x00, 0x0c, 0x00, 0x48, 0x44, 0x52, 0x00,
          0x2e, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x0a, 0x08, 0x02, 0x00, 0x00, 0x00, 0x0f, 0x4c, 0x62, 0x72, 0x69,
          0x67, 0x68, 0x18, 0x49, 0x44, 0x41, 0x54, 0x78, 0x5e, 0x63, 0x46, 0xb7, 0x3a, 0x00, 0x00, 0x00, 0x00, 0x49,
          0x45, 0x00, 0x00, 0x0a, 0x08, 0x02, 0x00, 0x00, 0x00, 0x0f, 0x4c, 0x28, 0xad, 0x00, 0x00, 0x00, 0x18, 0x49,
          0x44, 0x41, 0x54, 0x78, 0x5e, 0x63, 0x46, 0xb7, 0x3a, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa6, 0x00, 0x00, 0x00,
          0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
          0x00, 0x00, 0x42, 0x60, 0x82};
}

// A valid PNG with an empty IDAT chunk inserted right after IHDR (8-byte signature + 25-byte IHDR).
std::vector<uint8_t> with_empty_idat(std::vector<uint8_t> png) {
  std::vector<uint8_t> empty;
  fixtures::chunk(empty, "IDAT", {});
  png.insert(png.begin() + 33, empty.begin(), empty.end());
  return png;
}

std::vector<FileCase> image_corpus() {
  const Image img = fixtures::pattern(48, 40, 1);
  const auto jpg = fixtures::jpeg_bytes(img);
  const auto png = fixtures::png_bytes(fixtures::pattern(48, 40, 2));
  const auto bmp = fixtures::bmp_bytes(fixtures::pattern(48, 40, 3));
  auto cut = [](std::vector<uint8_t> b, std::size_t keep) {
    b.resize(keep);
    return b;
  };
  std::vector<uint8_t> grey(32 * 32, 90), rgba(32 * 32 * 4, 200);
  std::vector<uint8_t> corrupt_jpg = jpg;
  for (std::size_t i = 4; i < 40 && i < corrupt_jpg.size(); ++i) corrupt_jpg[i] = 0xFF;  // destroy the segments
  // A Huffman table whose code counts sum past 256: overflows stb_image 2.27's tables (fuzzer finding).
  std::vector<uint8_t> bad_dht = jpg;
  for (std::size_t i = 2; i + 21 < bad_dht.size(); ++i)
    if (bad_dht[i] == 0xFF && bad_dht[i + 1] == 0xC4) {
      bad_dht[i + 5 + 2] = 200;  // counts of code lengths 3 and 4
      bad_dht[i + 5 + 3] = 200;
      break;
    }
  // Fuzzer finding (CI, fuzz/fuzz_image.cpp): a DHT segment longer than the file whose second table's
  // 16 code counts are cut off by the end of the file; stb reads them as d1 7e 00 00.. (sum 335).
  std::vector<uint8_t> dht_cut_by_eof = jpeg_dht_cut_by_eof();
  // Fuzzer finding: an empty IDAT chunk that stb 2.27 copies into a null buffer, followed by garbage.
  const std::vector<uint8_t> empty_idat_garbage = png_empty_idat_then_garbage();
  std::vector<uint8_t> random_bytes;
  for (int i = 0; i < 300; ++i) random_bytes.push_back(static_cast<uint8_t>((i * 151 + 7) % 256 | 0x80));
  std::vector<uint8_t> wide_raw(1 + 100000 * 3, 0);  // one scanline of a 100000x1 RGB image
  const std::string text = "this is a text file, not a photograph\n";
  return {
      {"zero.jpg", {}, "file is empty (0 bytes)"},
      {"half.jpg", cut(jpg, jpg.size() / 2), "truncated or corrupt JPEG"},
      {"headonly.jpg", cut(jpg, 200), "JPEG"},
      {"noeoi.jpg", cut(jpg, jpg.size() - 2), "truncated or corrupt JPEG"},
      {"corrupt.jpg", corrupt_jpg, "JPEG"},
      {"bad_huffman.jpg", bad_dht, "Huffman table with more than 256 codes"},
      {"dht_cut_by_eof.jpg", dht_cut_by_eof, "Huffman table with more than 256 codes"},
      {"huffman_mismatch.jpg", jpeg_huffman_code_mismatch(), "cannot decode JPEG (unknown marker"},
      {"empty_idat_garbage.png", empty_idat_garbage, "truncated or corrupt PNG: chunk"},
      {"empty_idat.png", with_empty_idat(png), ""},  // valid: an empty IDAT chunk is allowed
      {"idat_claims_gigabytes.png", png_idat_claims_gigabytes(), "chunk 'IDAT' at byte 71 declares 1768384536"},
      {"half.png", cut(png, png.size() / 2), "truncated"},
      {"noiend.png", cut(png, png.size() - 12), "truncated"},
      {"sig_only.png", cut(png, 8), "corrupt or truncated PNG header"},
      {"short.bmp", cut(bmp, bmp.size() - 100), "truncated BMP"},
      {"text.jpg", std::vector<uint8_t>(text.begin(), text.end()), "the content is text"},
      {"random.png", random_bytes, "not a JPEG, PNG or BMP image"},
      {"one.png", fixtures::png_bytes(fixtures::pattern(1, 1)), "smaller than the minimum side"},
      {"line.png", fixtures::handmade_png(100000, 1, 8, 2, wide_raw), "100000x1"},
      {"huge_header.png", fixtures::handmade_png(60000, 60000, 8, 2, {}), "60000x60000 (3600000000 pixels), over the limit"},
      {"grey.png", fixtures::png_channels(32, 32, 1, grey), ""},
      {"rgba.png", fixtures::png_channels(32, 32, 4, rgba), ""},
      {"deep16.png", fixtures::png16(fixtures::pattern(20, 20)), ""},
      {"png_named.jpg", png, ""},          // wrong extension: content decides
      {"ok.jpg", jpg, ""},
      {"ok.bmp", bmp, ""},
      {"bad\xff\xfename.jpg", cut(jpg, 100), "bad\\xff\\xfename.jpg"},  // non-UTF-8 name, escaped in the message
      {"good\xe9.png", fixtures::png_bytes(fixtures::pattern(16, 16, 9)), ""},  // Latin-1 name, loads
  };
}

}  // namespace

TEST_CASE("data bad input: every corrupt image gets its documented error naming the file") {
  TempDir dir;
  int bad = 0;
  for (const auto& c : image_corpus()) {
    CAPTURE(c.name);
    const fs::path p = dir / c.name;
    fixtures::write_file(p, c.bytes);
    if (c.expect.empty()) {
      const Image img = read_image(p);
      CHECK(img.width > 0);
      CHECK(img.pixels.size() == static_cast<std::size_t>(img.width) * img.height * 3);
    } else {
      ++bad;
      try {
        (void)read_image(p);
        FAIL("no error for ", display_path(p));
      } catch (const Error& e) {  // IoError or DataError, never anything else
        const std::string msg = e.what();
        CHECK(msg.find(c.expect) != std::string::npos);
        CHECK(msg.find(display_path(p)) != std::string::npos);  // names the file
        CHECK((dynamic_cast<const IoError*>(&e) || dynamic_cast<const DataError*>(&e)));
      }
    }
  }
  CHECK(bad >= 15);
}

TEST_CASE("data bad input: an empty IDAT chunk is dropped before decoding and the pixels are unchanged") {
  const Image img = fixtures::pattern(23, 17, 5);
  const auto png = fixtures::png_bytes(img);
  const Image plain = decode_image(png, "plain.png");
  const Image padded = decode_image(with_empty_idat(png), "padded.png");
  REQUIRE(plain.pixels == img.pixels);
  CHECK(padded.pixels == plain.pixels);
}

TEST_CASE("data bad input: a 60000x60000 header is refused before any allocation") {
  const auto forged = fixtures::handmade_png(60000, 60000, 8, 2, {});
  CHECK(forged.size() < 100);
  // The limit is checked on the size the header claims; nothing of 60000*60000*3 bytes is allocated
  // (under ASan an attempt would abort the test).
  CHECK_THROWS_WITH_AS(decode_image(forged, "forged.png"),
                       doctest::Contains("forged.png: image is 60000x60000 (3600000000 pixels), over the limit of"), DataError);
  TempDir dir;
  fixtures::write_file(dir / "forged.png", forged);
  CHECK_THROWS_WITH_AS(probe_image(dir / "forged.png"), doctest::Contains("image is 60000x60000"), DataError);
  // The same for a BMP header.
  std::vector<uint8_t> bmp = fixtures::bmp_bytes(fixtures::pattern(16, 16));
  bmp[18] = 0x60; bmp[19] = 0xEA; bmp[20] = 0; bmp[21] = 0;  // width 60000
  CHECK_THROWS_WITH_AS(decode_image(bmp, "forged.bmp"), doctest::Contains("image is 60000x16"), DataError);
}

TEST_CASE("data bad input: the dataset scan reports every bad file with its reason, then stops or skips") {
  TempDir dir;
  const auto corpus = image_corpus();
  std::map<std::string, std::string> expect;
  for (const auto& c : corpus) {
    fixtures::write_file(dir / "lesion" / c.name, c.bytes);
    expect[display_path(dir / "lesion" / c.name)] = c.expect;
  }
  // Same bytes under two classes: both copies are bad. Same bytes twice in one class: a note only.
  const auto dup = fixtures::png_bytes(fixtures::pattern(24, 24, 77));
  fixtures::write_file(dir / "lesion" / "dup_a.png", dup);
  fixtures::write_file(dir / "other" / "dup_b.png", dup);
  fixtures::write_file(dir / "other" / "fine.png", fixtures::png_bytes(fixtures::pattern(24, 24, 78)));
  fixtures::write_file(dir / "other" / "fine_copy.png", fixtures::png_bytes(fixtures::pattern(24, 24, 78)));
  fixtures::write_file(dir / "other" / "notes.txt", std::vector<uint8_t>{'h', 'i'});
  fixtures::write_file(dir / "other" / "clip.gif", fixtures::jpeg_bytes(fixtures::pattern(24, 24)));  // not a supported extension

  Dataset d = load_folder_dataset(dir.path());
  REQUIRE(d.classes == std::vector<std::string>{"lesion", "other"});
  REQUIRE(d.size() == static_cast<int64_t>(corpus.size()) + 4);
  REQUIRE(d.notes.size() == 1);
  CHECK(d.notes[0] == "ignored 2 file(s) without an image extension");

  const ScanReport rep = scan_dataset(d);
  std::map<std::string, std::string> got;
  for (const auto& b : rep.bad) got[b.path] = b.reason;
  for (const auto& entry : expect) {  // not a structured binding: CAPTURE needs a capturable name
    const std::string& path = entry.first;
    const std::string& want = entry.second;
    CAPTURE(path);
    if (want.empty()) {
      CHECK(got.count(path) == 0);
    } else {
      REQUIRE(got.count(path) == 1);
      CHECK(got[path].find(want) != std::string::npos);
    }
  }
  const std::string a = display_path(dir / "lesion" / "dup_a.png"), b = display_path(dir / "other" / "dup_b.png");
  REQUIRE(got.count(a) == 1);
  REQUIRE(got.count(b) == 1);
  CHECK(got[a].find("duplicate: the same bytes are filed under different classes") != std::string::npos);
  CHECK(got[b].find("(class lesion)") != std::string::npos);
  REQUIRE(rep.notes.size() == 1);
  CHECK(rep.notes[0].find("fine_copy.png") != std::string::npos);
  int expected_bad = 2;
  for (const auto& c : corpus) expected_bad += c.expect.empty() ? 0 : 1;
  CHECK(static_cast<int>(rep.bad.size()) == expected_bad);

  // Default policy: stop, with the report in the message.
  Dataset stop = d;
  try {
    apply_bad_input_policy(stop, rep, false);
    FAIL("bad files accepted");
  } catch (const DataError& e) {
    const std::string msg = e.what();
    CHECK(msg.find(std::to_string(expected_bad) + " bad file(s) among " + std::to_string(d.size())) != std::string::npos);
    CHECK(msg.find("--skip-bad") != std::string::npos);
    CHECK(msg.find("zero.jpg: file is empty") != std::string::npos);
  }
  // --skip-bad: continue without them and say how many.
  const int64_t skipped = apply_bad_input_policy(d, rep, true);
  CHECK(skipped == expected_bad);
  CHECK(d.size() == static_cast<int64_t>(corpus.size()) + 4 - expected_bad);
  CHECK(d.notes.back() == "skipped " + std::to_string(expected_bad) + " bad file(s) (--skip-bad)");
  CHECK(scan_dataset(d).ok());

  // A pre-resized set: the wrong size is reported.
  ScanOptions exact;
  exact.expected_width = 24;
  exact.expected_height = 24;
  exact.duplicates = false;
  const ScanReport sized = scan_dataset(load_folder_dataset(dir.path() / "other" / ".."), exact);
  bool saw_size = false;
  for (const auto& bf : sized.bad) saw_size |= bf.reason.find("image is 48x40, expected 24x24") != std::string::npos;
  CHECK(saw_size);
}

TEST_CASE("data bad input: empty class folders stop the load unless dropped") {
  TempDir dir;
  fixtures::write_file(dir / "a" / "x.png", fixtures::png_bytes(fixtures::pattern(16, 16)));
  fs::create_directories(dir / "b");
  fixtures::write_text(dir / "c" / "readme.txt", "no images here");
  CHECK_THROWS_WITH_AS(load_folder_dataset(dir.path()), doctest::Contains("class folder contains no images"), DataError);
  const Dataset d = load_folder_dataset(dir.path(), {true});
  CHECK(d.classes == std::vector<std::string>{"a"});
  REQUIRE(d.notes.size() == 3);
  CHECK(d.notes[0].find("dropped empty class folder") != std::string::npos);
  TempDir none;
  CHECK_THROWS_WITH_AS(load_folder_dataset(none.path()), doctest::Contains("no class folders"), DataError);
  CHECK_THROWS_WITH_AS(load_folder_dataset(none / "missing"), doctest::Contains("dataset folder not found"), IoError);
}

TEST_CASE("data bad input: broken CSV label files get errors naming file, line and problem") {
  TempDir dir;
  for (const char* id : {"img1", "img2", "img3"})
    fixtures::write_file(dir / "images" / (std::string(id) + ".jpg"), fixtures::jpeg_bytes(fixtures::pattern(16, 16)));
  fixtures::write_file(dir / "images" / "part2" / "img3.png", fixtures::png_bytes(fixtures::pattern(16, 16)));  // same stem
  struct CsvCase {
    const char* csv;
    CsvOptions opt;
    const char* expect;
  };
  CsvOptions fixed;
  fixed.classes = {"mel", "nv"};
  CsvOptions dx;
  dx.label_col = "dx";
  CsvOptions group;
  group.group_col = "lesion_id";
  const std::vector<CsvCase> cases = {
      {"image_id,diagnosis_x\nimg1,mel\n", {}, "no label column (label, dx, diagnosis, class)"},
      {"name,label\nimg1,mel\n", {}, "cannot tell which column holds the path"},
      {"image_id,label\nimg1,mel\n", dx, "no column 'dx' (columns: image_id,label)"},
      {"image_id,label\nimg1,mel\n", group, "no column 'lesion_id'"},
      {"image_id,label\nimg1,mel\nimg2,bcc\n", fixed, "line 3: unknown label 'bcc' for image 'img2' (classes: mel, nv)"},
      {"image_id,label\nimg1,mel\nimg9,nv\n", {}, "line 3: image id 'img9' not found under"},
      {"image_id,label\nimg1,mel\nimg2,nv\nimg1,nv\n", {}, "line 4: image id 'img1' already listed on line 2"},
      {"image_id,label\nimg1,mel\nimg1.jpg,nv\n", {}, "already used on line 2"},
      {"image_id,label\nimg3,mel\n", {}, "image id 'img3' is ambiguous"},
      {"image_id,label\nimg1,mel,extra\n", {}, "line 2: 3 fields, but the header has 2"},
      {"image_id,label\n\"img1,mel\n", {}, "line 2: unterminated quoted field"},
      {"image_id,label\nimg1,\n", {}, "line 2: empty label"},
      {"image,MEL,NV\nimg1,1.0,1.0\n", {}, "line 2: image 'img1' has 2 one-hot labels set"},
      {"image,MEL,NV\nimg1,0.0,0.5\n", {}, "not one-hot 0/1 values"},
      {"", {}, "empty CSV file"},
      {"image_id,image_id\nimg1,img1\n", {}, "names column 'image_id' twice"},
  };
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const std::string csv_text = cases[k].csv;
    CAPTURE(csv_text);
    const fs::path csv = dir / ("labels" + std::to_string(k) + ".csv");
    fixtures::write_text(csv, cases[k].csv);
    try {
      (void)load_csv_dataset(csv, dir / "images", cases[k].opt);
      FAIL("accepted");
    } catch (const DataError& e) {
      const std::string msg = e.what();
      CAPTURE(msg);
      CHECK(msg.find(cases[k].expect) != std::string::npos);
      CHECK(msg.find(display_path(csv)) != std::string::npos);
    }
  }
  // --skip-bad for CSVs: rows whose image is missing are skipped and counted.
  fixtures::write_text(dir / "skip.csv", "image_id,label\nimg1,mel\nimg9,nv\nimg2,nv\n");
  CsvOptions skip;
  skip.skip_missing = true;
  const Dataset d = load_csv_dataset(dir / "skip.csv", dir / "images", skip);
  CHECK(d.size() == 2);
  REQUIRE(d.notes.size() == 1);
  CHECK(d.notes[0] == "skipped 1 CSV row(s) whose image was not found");
}

TEST_CASE("data bad input: a failed stb_image internal check is recorded for decode_image, not an abort") {
  skinnet::detail::stb_failed_check = nullptr;
  STBI_ASSERT(1 + 1 == 2);
  CHECK(skinnet::detail::stb_failed_check == nullptr);
  STBI_ASSERT(1 + 1 == 3);  // stb's assert() would abort the program here
  REQUIRE(skinnet::detail::stb_failed_check != nullptr);
  CHECK(std::string(skinnet::detail::stb_failed_check) == "1 + 1 == 3");
  skinnet::detail::stb_failed_check = nullptr;
}
