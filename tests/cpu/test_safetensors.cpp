// io/safetensors.hpp and io/atomic_file.hpp: the file format byte for byte, round trips, hostile
// headers, crash safety of the atomic write (SIGKILL at every phase), and interop with Python's
// reference implementation (`safetensors` from PyPI, in the .venv of scripts/python-venv.sh).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "skinnet/core/philox.hpp"
#include "skinnet/io/safetensors.hpp"
#include "test_util.hpp"

using namespace skinnet;
using namespace skinnet::io;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test, removed at the end.
struct TempDir : test::TempDir {
  TempDir() : test::TempDir("skinnet_io_") {}
};

std::vector<uint8_t> file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void put_bytes(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// A file from its parts: the 8-byte length as given, the header text, the data bytes.
std::vector<uint8_t> raw_file(uint64_t length, const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(length >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}
// The same with the correct length and `data_bytes` zero bytes of data.
std::vector<uint8_t> file_with(const std::string& header, std::size_t data_bytes) {
  return raw_file(header.size(), header, std::vector<uint8_t>(data_bytes, 0));
}
template <class T>
std::vector<uint8_t> le_bytes(const std::vector<T>& values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  std::memcpy(out.data(), values.data(), out.size());  // the host is little-endian (static_assert in the header)
  return out;
}

}  // namespace

TEST_CASE("safetensors: F16 and BF16 bit patterns convert to the exact float values") {
  CHECK(half_to_float(0x3C00) == 1.0f);
  CHECK(half_to_float(0xC000) == -2.0f);
  CHECK(half_to_float(0x3555) == 0.333251953125f);      // nearest half to 1/3
  CHECK(half_to_float(0x7BFF) == 65504.0f);             // largest half
  CHECK(half_to_float(0x0400) == std::ldexp(1.0f, -14));  // smallest normal
  CHECK(half_to_float(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(half_to_float(0x03FF) == std::ldexp(1023.0f, -24));  // largest subnormal
  CHECK(half_to_float(0x8200) == -std::ldexp(1.0f, -15));
  CHECK(std::bit_cast<uint32_t>(half_to_float(0x8000)) == 0x80000000u);  // -0
  CHECK(half_to_float(0x7C00) == INFINITY);
  CHECK(half_to_float(0xFC00) == -INFINITY);
  CHECK(std::isnan(half_to_float(0x7E00)));
  CHECK(bfloat16_to_float(0x3F80) == 1.0f);
  CHECK(bfloat16_to_float(0xC0A0) == -5.0f);
  CHECK(bfloat16_to_float(0x3EAB) == 0.333984375f);
  CHECK(bfloat16_to_float(0x7F80) == INFINITY);
}

TEST_CASE("safetensors: the writer produces exactly the bytes the format specifies") {
  const float x[2] = {1.5f, -2.0f};
  const int64_t step[1] = {7};
  const auto bytes = serialize_safetensors({tensor_ref("x", std::vector<int64_t>{2}, x),
                                            tensor_ref("step", std::vector<int64_t>{}, step)},
                                           {{"k", "v"}});
  // I64 (8-byte elements) goes before F32: every tensor stays naturally aligned. 135 bytes of JSON
  // padded with 1 space so that the data starts at byte 8 + 136 = 144, a multiple of 8.
  const std::string json =
      R"({"__metadata__":{"k":"v"},"step":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
      R"("x":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  REQUIRE(json.size() == 135);
  std::vector<uint8_t> data = le_bytes(std::vector<int64_t>{7});
  const auto xs = le_bytes(std::vector<float>{1.5f, -2.0f});
  data.insert(data.end(), xs.begin(), xs.end());
  const auto expected = raw_file(136, json + " ", data);
  CHECK(bytes == expected);
}

TEST_CASE("safetensors: a hand-made file reads back with every dtype converted") {
  // Written by hand, not by our writer: F16, BF16, F64, F32, I32 and I64 side by side.
  std::vector<uint8_t> data;
  auto append = [&](const std::vector<uint8_t>& b) { data.insert(data.end(), b.begin(), b.end()); };
  append(le_bytes(std::vector<double>{0.1, -1e300}));              // [0, 16)  F64 (overflows float)
  append(le_bytes(std::vector<int64_t>{-3, 1LL << 40}));           // [16, 32) I64
  append(le_bytes(std::vector<float>{0.25f, 3.0f, -7.5f}));        // [32, 44) F32
  append(le_bytes(std::vector<int32_t>{-5, 6}));                   // [44, 52) I32
  append(le_bytes(std::vector<uint16_t>{0x3C00, 0xB800}));         // [52, 56) F16: 1, -0.5
  append(le_bytes(std::vector<uint16_t>{0x4049, 0x0000, 0xBF80})); // [56, 62) BF16: 3.140625, 0, -1
  const std::string header =
      R"({"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},)"
      R"("n":{"dtype":"I64","shape":[2,1],"data_offsets":[16,32]},)"
      R"("f":{"data_offsets":[32,44],"dtype":"F32","shape":[1,3]},)"
      R"("i":{"dtype":"I32","shape":[2],"data_offsets":[44,52]},)"
      R"("h":{"dtype":"F16","shape":[2],"data_offsets":[52,56]},)"
      R"("b":{"dtype":"BF16","shape":[3],"data_offsets":[56,62]},)"
      R"("empty":{"dtype":"F32","shape":[0,4],"data_offsets":[62,62]}})";
  const auto r = SafetensorsReader::from_bytes(raw_file(header.size(), header, data), "hand.safetensors");
  REQUIRE(r.tensors().size() == 7);
  CHECK(r.tensors()[0].name == "d");  // data order
  CHECK(r.info("f").shape == std::vector<int64_t>{1, 3});
  CHECK(r.read_floats("f") == std::vector<float>{0.25f, 3.0f, -7.5f});
  const auto d = r.read_floats("d");
  CHECK(d[0] == static_cast<float>(0.1));
  CHECK(d[1] == -INFINITY);
  CHECK(r.read_floats("h") == std::vector<float>{1.0f, -0.5f});
  CHECK(r.read_floats("b") == std::vector<float>{3.140625f, 0.0f, -1.0f});
  CHECK(r.read_int64("n") == std::vector<int64_t>{-3, 1LL << 40});
  CHECK(r.read_int64("i") == std::vector<int64_t>{-5, 6});
  CHECK(r.read_floats("empty").empty());
  CHECK(r.info("empty").numel() == 0);
  CHECK(r.metadata().empty());
  CHECK_THROWS_WITH_AS(r.read_floats("n"), doctest::Contains("hand.safetensors: tensor \"n\" has dtype I64"), IoError);
  CHECK_THROWS_WITH_AS(r.read_int64("f"), doctest::Contains("has dtype F32, not an integer type"), IoError);
  CHECK_THROWS_WITH_AS(r.info("nope"), doctest::Contains("hand.safetensors: no tensor named \"nope\""), IoError);
}

TEST_CASE("safetensors: write then read returns identical values, shapes, metadata and bytes") {
  TempDir dir;
  std::vector<float> a(2 * 3 * 4 * 5), b(7), s(1);
  std::vector<int64_t> counter{123456789012345LL};
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::sin(static_cast<float>(i)) * 1e3f;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::bit_cast<float>(0x3F800000u + static_cast<uint32_t>(i) * 977u);
  b[3] = -0.0f;
  b[4] = std::numeric_limits<float>::denorm_min();
  s[0] = 42.f;
  const Metadata meta{{"architecture", "seresnet50"}, {"class_names", R"(["akiec","bcc"])"},
                      {"unicode", "naevus \xC3\xBC \"quoted\"\n"}};
  const std::vector<TensorRef> refs{
      tensor_ref("layer1.0.conv1.weight", Shape{2, 3, 4, 5}, a.data()),
      tensor_ref("optim.step", std::vector<int64_t>{1}, counter.data()),
      tensor_ref("bias", Shape{7}, b.data()),
      tensor_ref("scalar", std::vector<int64_t>{}, s.data()),
      tensor_ref("zero", std::vector<int64_t>{0, 3}, static_cast<const float*>(nullptr)),
  };
  const fs::path file = dir.path / "model.safetensors";
  write_safetensors(file, refs, meta);
  CHECK(file_bytes(file) == serialize_safetensors(refs, meta));  // one format, two sinks
  CHECK(!fs::exists(fs::path(file.string() + ".tmp." + std::to_string(::getpid()))));

  const SafetensorsReader r(file);
  CHECK(r.metadata() == meta);
  REQUIRE(r.tensors().size() == refs.size());
  // Data order: 8-byte I64 first, then the F32 tensors in the order given.
  CHECK(r.tensors()[0].name == "optim.step");
  CHECK(r.tensors()[1].name == "layer1.0.conv1.weight");
  for (const auto& t : r.tensors()) CHECK(t.begin % dtype_size(t.dtype) == 0);
  const auto raw = file_bytes(file);
  uint64_t header_len = 0;
  std::memcpy(&header_len, raw.data(), 8);
  CHECK((8 + header_len) % 8 == 0);

  CHECK(r.info("layer1.0.conv1.weight").shape == std::vector<int64_t>{2, 3, 4, 5});
  CHECK(r.info("scalar").shape.empty());
  CHECK(r.info("zero").shape == std::vector<int64_t>{0, 3});
  const auto ra = r.read_floats("layer1.0.conv1.weight");
  const auto rb = r.read_floats("bias");
  CHECK(std::memcmp(ra.data(), a.data(), a.size() * 4) == 0);  // bit-exact, -0 and denormals included
  CHECK(std::memcmp(rb.data(), b.data(), b.size() * 4) == 0);
  CHECK(r.read_floats("scalar") == s);
  CHECK(r.read_int64("optim.step") == counter);
  CHECK(r.read_bytes("optim.step") == le_bytes(counter));

  // Rewriting replaces the file atomically and leaves no temp file behind.
  write_safetensors(file, {tensor_ref("only", Shape{1}, s.data())});
  const SafetensorsReader r2(file);
  CHECK(r2.tensors().size() == 1);
  CHECK(r2.metadata().empty());
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}

TEST_CASE("safetensors: the writer rejects what it cannot write") {
  const float v[2] = {1, 2};
  CHECK_THROWS_WITH_AS(serialize_safetensors({tensor_ref("a", Shape{2}, v), tensor_ref("a", Shape{2}, v)}),
                       doctest::Contains("tensor \"a\" is listed twice"), ValueError);
  CHECK_THROWS_WITH_AS(serialize_safetensors({tensor_ref("__metadata__", Shape{2}, v)}),
                       doctest::Contains("cannot write a tensor named \"__metadata__\""), ValueError);
  CHECK_THROWS_WITH_AS(serialize_safetensors({tensor_ref("", Shape{2}, v)}), doctest::Contains("named \"\""), ValueError);
  CHECK_THROWS_WITH_AS(serialize_safetensors({tensor_ref("n", std::vector<int64_t>{-2}, v)}),
                       doctest::Contains("negative extent -2"), ValueError);
  CHECK_THROWS_WITH_AS(serialize_safetensors({tensor_ref("null", Shape{2}, static_cast<const float*>(nullptr))}),
                       doctest::Contains("tensor \"null\" has no data"), ValueError);
  CHECK_THROWS_WITH_AS(serialize_safetensors({tensor_ref("bad\xFF", Shape{2}, v)}), doctest::Contains("header"),
                       ValueError);
  TempDir dir;
  CHECK_THROWS_WITH_AS(write_safetensors(dir.path / "no_such_dir" / "x.safetensors", {tensor_ref("a", Shape{2}, v)}),
                       doctest::Contains("cannot create temporary file"), IoError);
}

namespace {
struct Hostile {
  const char* what;
  std::vector<uint8_t> bytes;
  const char* message;  // expected in the IoError after "<file>: invalid safetensors file: "
};

std::vector<Hostile> hostile_files() {
  const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  std::vector<Hostile> h;
  h.push_back({"shorter than the length field", {1, 2, 3}, "the file has 3 bytes, too few for the 8-byte header length"});
  h.push_back({"absurd header length", raw_file(1ULL << 62, "{}", {}), "exceeds the limit of 100000000 bytes"});
  h.push_back({"header length beyond the file", raw_file(4096, "{}", {}), "header length 4096 reaches beyond the end of the file (10 bytes)"});
  h.push_back({"empty header", raw_file(0, "", {}), "the JSON header must start with '{'"});
  h.push_back({"leading space", file_with(" {}", 0), "must start with '{'"});
  h.push_back({"top-level array", file_with("[1,2]", 0), "must start with '{'"});
  h.push_back({"truncated JSON", file_with(R"({"a":{"dtype":"F32")", 0), "the header is not valid JSON"});
  h.push_back({"trailing comma", file_with(R"({"a":1,})", 0), "not valid JSON"});
  h.push_back({"invalid UTF-8 in a name", file_with("{\"\xC3\x28\":1}", 0), "not valid JSON"});
  h.push_back({"entry is a number", file_with(R"({"a":5})", 0), "entry \"a\" must be an object with dtype, shape and data_offsets, found a number"});
  h.push_back({"unknown dtype", file_with(R"({"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", 8), "tensor \"a\": unknown dtype \"F33\""});
  h.push_back({"lower-case dtype", file_with(R"({"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}})", 8), "unknown dtype \"f32\""});
  h.push_back({"dtype not a string", file_with(R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", 8), "dtype must be a string, found 4"});
  h.push_back({"missing data_offsets", file_with(R"({"a":{"dtype":"F32","shape":[2]}})", 8), "tensor \"a\": missing field \"data_offsets\""});
  h.push_back({"unexpected field", file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", 8), "tensor \"a\": unexpected field \"x\""});
  h.push_back({"shape not an array", file_with(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", 8), "shape must be an array, found 2"});
  h.push_back({"negative extent", file_with(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "shape holds the negative number -2"});
  h.push_back({"fractional extent", file_with(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8), "shape must hold non-negative integers, found 2.5"});
  h.push_back({"extent beyond 64 bits", file_with(R"({"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}})", 8), "shape must hold non-negative integers"});
  h.push_back({"element count overflows", file_with(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8), "has more elements than 2^64"});
  h.push_back({"byte count overflows", file_with(R"({"a":{"dtype":"F32","shape":[2305843009213693952,2],"data_offsets":[0,8]}})", 8), "is too large to address"});
  h.push_back({"offsets not a pair", file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}})", 8), "data_offsets must be [begin, end], found [0,4,8]"});
  h.push_back({"offsets reversed", file_with(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8), "data_offsets [8, 0] end before they begin"});
  h.push_back({"offsets past the data", file_with(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8), "data_offsets [0, 16] reach beyond the data section (8 bytes)"});
  h.push_back({"size is not numel x dtype size", file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4), "tensor \"a\": data_offsets [0, 4] hold 4 bytes but shape [2] of F32 needs 8"});
  h.push_back({"overlapping tensors", file_with("{" + ok_entry + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12), "tensors \"a\" [0, 8) and \"b\" [4, 12) overlap"});
  h.push_back({"hole in the data", file_with("{" + ok_entry + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})", 16), "bytes [8, 12) of the data section belong to no tensor"});
  h.push_back({"hole at the start", file_with(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), "bytes [0, 4) of the data section belong to no tensor"});
  h.push_back({"trailing bytes", file_with("{" + ok_entry + "}", 12), "the data section has 4 bytes after the last tensor"});
  h.push_back({"duplicate tensor name", file_with("{" + ok_entry + "," + ok_entry + "}", 8), "tensor \"a\" appears twice in the header"});
  h.push_back({"duplicate key in an entry", file_with(R"({"a":{"dtype":"F32","dtype":"F64","shape":[2],"data_offsets":[0,8]}})", 8), "key \"dtype\" appears twice in one object"});
  h.push_back({"metadata value not a string", file_with(R"({"__metadata__":{"epoch":3}})", 0), "__metadata__ value for \"epoch\" must be a string, found 3"});
  h.push_back({"metadata not an object", file_with(R"({"__metadata__":["x"]})", 0), "__metadata__ must be an object of strings, found a array"});
  h.push_back({"empty tensor name", file_with(R"({"":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})", 0), "a tensor has an empty name"});
  h.push_back({"deep nesting", file_with("{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}", 0), "nests JSON containers deeper than the format allows"});
  h.push_back({"huge shape array", file_with(R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})", 4), "an array longer than any shape (16 dimensions)"});
  return h;
}
}  // namespace

TEST_CASE("safetensors: hostile and corrupt headers are rejected with a message naming the problem") {
  TempDir dir;
  const fs::path p = dir.path / "hostile.safetensors";
  const auto cases = hostile_files();
  CHECK(cases.size() >= 15);
  // The message starts with the file's name, says the file is invalid, then names the problem.
  auto check_rejects = [](auto&& open, const std::string& source, const char* problem) {
    try {
      open();
      FAIL("accepted");
    } catch (const IoError& e) {
      const std::string msg = e.what();
      CHECK_MESSAGE(msg.rfind(source + ": invalid safetensors file: ", 0) == 0, msg);
      CHECK_MESSAGE(msg.find(problem) != std::string::npos, msg);
    }
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    check_rejects([&] { (void)SafetensorsReader::from_bytes(c.bytes, "hostile.safetensors"); }, "hostile.safetensors",
                  c.message);
    put_bytes(p, c.bytes);  // the same bytes from disk
    check_rejects([&] { (void)SafetensorsReader(p); }, p.string(), c.message);
  }
  // Not a file at all.
  CHECK_THROWS_WITH_AS(SafetensorsReader{dir.path}, doctest::Contains("not a regular file"), IoError);
  CHECK_THROWS_WITH_AS(SafetensorsReader{dir.path / "absent.safetensors"},
                       doctest::Contains("absent.safetensors: cannot open: No such file"), IoError);
}

TEST_CASE("safetensors: random corruption of a valid file never escapes as anything but IoError") {
  // A deterministic mini-fuzz: flip, overwrite or truncate bytes of a small valid file; every result
  // either reads completely or fails with IoError (under ASan: without touching memory it must not).
  std::vector<float> a(6, 1.5f);
  std::vector<int64_t> n{3};
  const auto valid = serialize_safetensors(
      {tensor_ref("w", Shape{2, 3}, a.data()), tensor_ref("bn.num_batches_tracked", std::vector<int64_t>{}, n.data())},
      {{"architecture", "x"}});
  int accepted = 0, rejected = 0;
  for (uint32_t trial = 0; trial < 3000; ++trial) {
    const Philox4x32 r = philox4x32_10(Philox4x32{{trial, 0, 0, 0}}, 1234u, 0u);
    std::vector<uint8_t> bytes = valid;
    const std::size_t pos = r.v[0] % bytes.size();
    switch (r.v[1] % 4) {
      case 0: bytes[pos] ^= static_cast<uint8_t>(1u << (r.v[2] % 8)); break;
      case 1: bytes[pos] = static_cast<uint8_t>(r.v[2]); break;
      case 2: bytes.resize(pos); break;
      default: bytes[pos] = static_cast<uint8_t>("{}[],:\"0-9 e."[r.v[2] % 13]); break;
    }
    try {
      const auto reader = SafetensorsReader::from_bytes(bytes, "fuzz");
      for (const auto& t : reader.tensors()) (void)reader.read_bytes(t);
      ++accepted;
    } catch (const IoError&) {
      ++rejected;
    }
  }
  MESSAGE("corrupted files accepted: " << accepted << ", rejected: " << rejected);
  CHECK(rejected > 1000);
  CHECK(accepted > 0);  // e.g. flips inside float data are still valid files
}

namespace {
// Writes `refs` to `file` in a forked child with SKINNET_TEST_KILL_AT=phase; returns the child's
// wait status and pid.
std::pair<int, pid_t> write_in_child(const fs::path& file, const std::vector<TensorRef>& refs, const Metadata& meta,
                                     const char* phase) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (phase) ::setenv("SKINNET_TEST_KILL_AT", phase, 1);
    try {
      write_safetensors(file, refs, meta);
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return {status, pid};
}
}  // namespace

TEST_CASE("safetensors: a write killed by SIGKILL at any phase leaves the previous file intact") {
  TempDir dir;
  const fs::path file = dir.path / "checkpoint.safetensors";
  std::vector<float> old_w(1000, 1.0f), new_w(5000);
  for (std::size_t i = 0; i < new_w.size(); ++i) new_w[i] = static_cast<float>(i);
  std::vector<float> new_b(3000, -2.0f);
  write_safetensors(file, {tensor_ref("w", Shape{1000}, old_w.data())}, {{"epoch", "1"}});
  const auto old_bytes = file_bytes(file);

  const std::vector<TensorRef> next{tensor_ref("w", Shape{5000}, new_w.data()), tensor_ref("b", Shape{3000}, new_b.data())};
  const Metadata next_meta{{"epoch", "2"}};
  const auto new_bytes = serialize_safetensors(next, next_meta);
  const uint64_t header_end = new_bytes.size() - 8000 * 4;

  struct Phase {
    const char* name;
    uint64_t temp_size;  // bytes in the temp file when the process died
    bool target_is_new;
  };
  const Phase phases[] = {
      {"after_open", 0, false},
      {"after_header", header_end, false},
      {"mid_data", header_end + 8000 * 2, false},  // half of the 32000 data bytes
      {"before_fsync", new_bytes.size(), false},
      {"before_rename", new_bytes.size(), false},
      {"after_rename", 0, true},
  };
  for (const auto& ph : phases) {
    CAPTURE(ph.name);
    write_safetensors(file, {tensor_ref("w", Shape{1000}, old_w.data())}, {{"epoch", "1"}});  // restore v1
    const auto [status, pid] = write_in_child(file, next, next_meta, ph.name);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    const fs::path temp = file.string() + ".tmp." + std::to_string(pid);

    const SafetensorsReader r(file);  // the target always opens cleanly
    if (ph.target_is_new) {
      CHECK(file_bytes(file) == new_bytes);
      CHECK(!fs::exists(temp));
    } else {
      CHECK(file_bytes(file) == old_bytes);
      CHECK(r.metadata().at("epoch") == "1");
      CHECK(r.read_floats("w") == old_w);
      // The dead writer's partial file is left under its own name, where the kill point put it.
      REQUIRE(fs::exists(temp));
      CHECK(fs::file_size(temp) == ph.temp_size);
      fs::remove(temp);
    }
  }
  // Without a kill point the child completes and nothing else is left in the directory.
  const auto [status, pid] = write_in_child(file, next, next_meta, nullptr);
  (void)pid;
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(file_bytes(file) == new_bytes);
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}

// ---- Python interop -----------------------------------------------------------------------------

namespace {
// The repository root, from this file's path (tests/cpu/test_safetensors.cpp).
fs::path repo_root() { return fs::path(__FILE__).parent_path().parent_path().parent_path(); }

// The interpreter of scripts/python-venv.sh's .venv (SKINNET_PYTHON overrides), or empty when it is
// not there.
fs::path interop_python() {
  const char* env = std::getenv("SKINNET_PYTHON");
  const fs::path python = env && *env ? fs::path(env) : repo_root() / ".venv" / "bin" / "python";
  return ::access(python.c_str(), X_OK) == 0 ? python : fs::path();
}

// Values both sides compute independently: v(i) = (i % 17 - 8) / 4 + i * 2^-10 (exact in float).
float interop_value(int64_t i) { return static_cast<float>((i % 17) - 8) / 4.0f + static_cast<float>(i) / 1024.0f; }
}  // namespace

// ctest marks this test skipped (not passed) when it prints SKINNET_SKIP (SKIP_REGULAR_EXPRESSION).
TEST_CASE("safetensors: Python's safetensors reads skinnet files and skinnet reads Python's") {
  const fs::path python = interop_python();
  const fs::path script = repo_root() / "tests" / "python" / "safetensors_interop.py";
  if (python.empty()) {
    std::printf("SKINNET_SKIP: no Python interpreter at $SKINNET_PYTHON or %s (run scripts/python-venv.sh)\n",
                (repo_root() / ".venv" / "bin" / "python").c_str());
    return;
  }
  REQUIRE(fs::exists(script));
  TempDir dir;

  // skinnet -> Python
  std::vector<float> w(3 * 3 * 4 * 8), bias(8);
  for (int64_t i = 0; i < static_cast<int64_t>(w.size()); ++i) w[static_cast<std::size_t>(i)] = interop_value(i);
  for (int64_t i = 0; i < 8; ++i) bias[static_cast<std::size_t>(i)] = interop_value(1000 + i);
  std::vector<int64_t> step{987654321012LL};
  const fs::path ours = dir.path / "from_skinnet.safetensors";
  write_safetensors(ours,
                    {tensor_ref("conv.weight", Shape{3, 3, 4, 8}, w.data()), tensor_ref("conv.bias", Shape{8}, bias.data()),
                     tensor_ref("optim.step", std::vector<int64_t>{}, step.data())},
                    {{"architecture", "tiny"}, {"class_names", R"(["mel","nv"])"}, {"note", "\xC3\xA9t\xC3\xA9"}});

  const fs::path theirs = dir.path / "from_python.safetensors";
  const std::string cmd = "\"" + python.string() + "\" \"" + script.string() + "\" \"" + ours.string() + "\" \"" +
                          theirs.string() + "\"";
  const int rc = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(rc));
  if (WEXITSTATUS(rc) == 77) {
    std::printf("SKINNET_SKIP: %s has no safetensors module (run scripts/python-venv.sh)\n", python.c_str());
    return;
  }
  REQUIRE_MESSAGE(WEXITSTATUS(rc) == 0, "the Python side failed: ", cmd);

  // Python -> skinnet: the script wrote F32, F16, F64 and I64 (numpy) and BF16 (torch) tensors.
  const SafetensorsReader r(theirs);
  CHECK(r.metadata().at("written_by") == "safetensors");
  const auto& f32 = r.info("f32");
  CHECK(f32.dtype == Dtype::F32);
  CHECK(f32.shape == std::vector<int64_t>{2, 3, 5});
  const auto v32 = r.read_floats(f32);
  for (int64_t i = 0; i < 30; ++i) CHECK(v32[static_cast<std::size_t>(i)] == interop_value(i));
  const auto v64 = r.read_floats("f64");
  for (int64_t i = 0; i < 7; ++i) CHECK(v64[static_cast<std::size_t>(i)] == interop_value(i + 100));
  // interop_value is exact in float32 but not always in half precision: compare with a half's
  // resolution (10 fraction bits; values are below 4 in magnitude, so within 2^-9).
  const auto v16 = r.read_floats("f16");
  for (int64_t i = 0; i < 9; ++i) CHECK(std::fabs(v16[static_cast<std::size_t>(i)] - interop_value(i)) <= 1.0f / 512);
  CHECK(r.read_int64("i64") == std::vector<int64_t>{-1, 0, 1LL << 50});
  if (const TensorInfo* bf = r.find("bf16")) {
    CHECK(bf->dtype == Dtype::BF16);
    CHECK(r.read_floats(*bf) == std::vector<float>{1.0f, -2.5f, 3.140625f});
  } else {
    MESSAGE("the Python side had no torch: BF16 interop not checked");
  }
}
