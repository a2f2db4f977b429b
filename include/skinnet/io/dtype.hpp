#pragma once
// Element types of safetensors files: their names as written in the JSON header ("F32"), their sizes,
// and the conversions of the floating-point ones to float.
//
// skinnet computes in float32 and writes F32. It reads every floating type PyTorch commonly saves
// (F64, F32, F16, BF16) by converting to float, and every other dtype of the format as raw bytes, so a
// caller can see an int64 entry such as BatchNorm's `num_batches_tracked` and skip it by name.
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace skinnet::io {

// The dtypes of the safetensors format. Values are listed in the spec's order; none of the code
// depends on their numbering.
enum class Dtype { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

struct DtypeInfo {
  Dtype dtype;
  std::string_view name;  // as spelled in the header
  int size;               // bytes per element
  bool floating;          // converted to float by SafetensorsReader::read_floats
};

inline constexpr DtypeInfo kDtypes[] = {
    {Dtype::BOOL, "BOOL", 1, false}, {Dtype::U8, "U8", 1, false},
    {Dtype::I8, "I8", 1, false},     {Dtype::F8_E5M2, "F8_E5M2", 1, false},
    {Dtype::F8_E4M3, "F8_E4M3", 1, false},  // 8-bit floats: readable as bytes, not converted
    {Dtype::I16, "I16", 2, false},   {Dtype::U16, "U16", 2, false},
    {Dtype::F16, "F16", 2, true},    {Dtype::BF16, "BF16", 2, true},
    {Dtype::I32, "I32", 4, false},   {Dtype::U32, "U32", 4, false},
    {Dtype::F32, "F32", 4, true},    {Dtype::F64, "F64", 8, true},
    {Dtype::I64, "I64", 8, false},   {Dtype::U64, "U64", 8, false},
};

inline constexpr const DtypeInfo& dtype_info(Dtype d) {
  for (const auto& info : kDtypes)
    if (info.dtype == d) return info;
  return kDtypes[0];  // unreachable: every enumerator is in the table
}
inline constexpr int dtype_size(Dtype d) { return dtype_info(d).size; }
inline constexpr std::string_view dtype_name(Dtype d) { return dtype_info(d).name; }
inline constexpr bool dtype_is_floating(Dtype d) { return dtype_info(d).floating; }

// The dtype a header names, or nullopt for a name the format does not define (names are case
// sensitive, as in the reference implementation).
inline std::optional<Dtype> parse_dtype(std::string_view name) {
  for (const auto& info : kDtypes)
    if (info.name == name) return info.dtype;
  return std::nullopt;
}

// IEEE 754 binary16 -> binary32, exactly (every half value is representable as a float).
// Layout: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits.
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t fraction = h & 0x3FFu;
  uint32_t bits;
  if (exponent == 0x1F) {  // infinity or NaN: keep the payload
    bits = sign | 0x7F800000u | (fraction << 13);
  } else if (exponent != 0) {  // normal: rebias 15 -> 127
    bits = sign | ((exponent + 112u) << 23) | (fraction << 13);
  } else if (fraction == 0) {  // signed zero
    bits = sign;
  } else {  // subnormal half = fraction * 2^-24: normalise it, as a float has the range to
    int e = -1;
    do {
      fraction <<= 1;
      ++e;
    } while ((fraction & 0x400u) == 0);
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((fraction & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(bits);
}

// bfloat16 is the top half of a float32, so the conversion is a shift.
inline float bfloat16_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

}  // namespace skinnet::io
