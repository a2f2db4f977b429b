// The real datasets in ../shared/data (SKINNET_DATA_DIR), when present; skipped (doctest skip, decided
// when the test binary starts) when not. Kept fast: every file is indexed and its header read, only a
// sample is fully decoded.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "skinnet/data/csv_dataset.hpp"
#include "skinnet/data/presplit.hpp"
#include "skinnet/data/scan.hpp"
#include "test_data_fixtures.hpp"

using namespace skinnet;

TEST_CASE("data real: HAM10000-224 folder layout, counts, headers and the metadata CSV agree" *
          doctest::skip(fixtures::no_real_data("ham10000-224"))) {
  const fs::path dir = fixtures::real_data("ham10000-224");
  REQUIRE_FALSE(dir.empty());
  const Dataset folder = load_folder_dataset(dir);
  CHECK(folder.classes == std::vector<std::string>{"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"});
  CHECK(folder.size() == 5984);
  CHECK(folder.class_counts() == std::vector<int64_t>{183, 264, 583, 60, 491, 4323, 80});  // the README's counts

  // Every header, and the same-bytes-under-two-classes check; a sample fully decoded.
  ScanOptions headers;
  headers.decode = false;
  headers.expected_width = 224;
  headers.expected_height = 224;
  const ScanReport rep = scan_dataset(folder, headers);
  CHECK(rep.scanned == 5984);
  CHECK(rep.text() == "0 bad file(s) among 5984 scanned:\n");
  for (int64_t i = 0; i < folder.size(); i += 97) {
    const Image img = folder.load(i);
    CHECK(img.width == 224);
    CHECK(img.height == 224);
  }

  CsvOptions opt;
  opt.group_col = "lesion_id";
  const Dataset csv = load_csv_dataset(dir / "HAM10000_metadata.csv", dir, opt);
  REQUIRE(csv.size() == 5984);
  CHECK(csv.classes == folder.classes);
  std::map<std::string, int> folder_label;
  for (const Sample& s : folder.samples) folder_label[s.id] = s.label;
  int agree = 0;
  for (const Sample& s : csv.samples) agree += folder_label.count(s.id) && folder_label[s.id] == s.label;
  CHECK(agree == 5984);

  // Lesion-grouped 7:2:1 split: no lesion_id in two parts.
  SplitOptions so;
  so.by_group = true;
  so.seed = 42;
  const auto split = stratified_split(csv, so);
  std::map<std::string, std::set<int>> parts;
  for (std::size_t i = 0; i < split.size(); ++i) parts[csv.samples[i].group].insert(static_cast<int>(split[i]));
  int shared = 0;
  for (const auto& [lesion, p] : parts) shared += p.size() > 1;
  CHECK(shared == 0);
  int test_df = 0;
  for (std::size_t i = 0; i < split.size(); ++i) test_df += split[i] == Split::Test && csv.samples[i].label == 3;
  CHECK(test_df == 6);  // df: 60 images -> 42 / 12 / 6
}

TEST_CASE("data real: the ISIC archive pre-split tree loads with val carved from train" *
          doctest::skip(fixtures::no_real_data("isic-archive-180"))) {
  const fs::path dir = fixtures::real_data("isic-archive-180");
  REQUIRE_FALSE(dir.empty());
  PresplitOptions opt;
  opt.seed = 1;
  const SplitDataset s = load_presplit(dir, opt);
  CHECK(s.data.classes == std::vector<std::string>{"actinic_keratosis", "basal_cell_carcinoma", "dermatofibroma", "melanoma",
                                                   "nevus", "pigmented_benign_keratosis", "squamous_cell_carcinoma",
                                                   "vascular_lesion"});
  CHECK(s.data.size() == 2141);
  CHECK(s.part(Split::Test).class_counts() == std::vector<int64_t>{14, 16, 16, 16, 16, 16, 16, 3});
  const std::vector<int64_t> train_all{114, 376, 95, 383, 278, 462, 181, 139};
  const auto val = s.part(Split::Val).class_counts();
  const auto train = s.part(Split::Train).class_counts();
  for (std::size_t c = 0; c < train_all.size(); ++c) {
    CHECK(val[c] + train[c] == train_all[c]);
    CHECK(val[c] == std::lround(train_all[c] * 0.2));
  }
  ScanOptions headers;
  headers.decode = false;
  headers.duplicates = false;
  CHECK(scan_dataset(s.data, headers).ok());
}
