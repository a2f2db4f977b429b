// libFuzzer target: the CSV parser (and, on the same text, the augmentation-spec parser). Any input
// must parse or throw skinnet::DataError / ValueError. A parsed table must survive a write/parse round
// trip unchanged — the writer's quoting and the parser must agree.
#include <cstddef>
#include <cstdint>
#include <string>

#include "skinnet/data/augment.hpp"
#include "skinnet/data/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const skinnet::CsvTable t = skinnet::parse_csv(text, "fuzz.csv");
    std::string again = skinnet::csv_row(t.header);
    for (const auto& row : t.rows) again += skinnet::csv_row(row);
    const skinnet::CsvTable u = skinnet::parse_csv(again, "again.csv");
    if (u.header != t.header || u.rows != t.rows) __builtin_trap();
  } catch (const skinnet::DataError&) {
  }
  try {
    const auto spec = skinnet::parse_augment(text);
    if (skinnet::parse_augment(spec.str()).str() != spec.str()) __builtin_trap();
  } catch (const skinnet::ValueError&) {
  }
  return 0;
}
