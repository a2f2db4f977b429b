// Dataset layouts (folder per class, pre-split trees, CSV incl. HAM10000 metadata and ISIC one-hot),
// the class summary, stratified and grouped splits, and split.csv — on fixture sets written here.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "skinnet/data/csv_dataset.hpp"
#include "skinnet/data/presplit.hpp"
#include "skinnet/data/split_file.hpp"
#include "test_data_fixtures.hpp"

using namespace skinnet;
using fixtures::TempDir;

namespace {
// root/<class>/<class>_<i>.png with counts[class] images.
void write_folder_set(const fs::path& root, const std::map<std::string, int>& counts, const std::string& ext = ".png") {
  int tag = 0;
  for (const auto& [cls, n] : counts)
    for (int i = 0; i < n; ++i) {
      const Image img = fixtures::pattern(16, 12, ++tag);
      fixtures::write_file(root / cls / (cls + "_" + std::to_string(i) + ext),
                           ext == ".jpg" ? fixtures::jpeg_bytes(img) : fixtures::png_bytes(img));
    }
}
}  // namespace

TEST_CASE("data datasets: folder per class gives sorted classes and the right labels") {
  TempDir dir;
  write_folder_set(dir.path(), {{"nv", 5}, {"Mel", 3}, {"bcc", 2}});
  fixtures::write_file(dir / "bcc" / "nested" / "deep.JPG", fixtures::jpeg_bytes(fixtures::pattern(16, 16)));
  fixtures::write_file(dir / "loose.png", fixtures::png_bytes(fixtures::pattern(16, 16)));
  const Dataset d = load_folder_dataset(dir.path());
  CHECK(d.classes == std::vector<std::string>{"Mel", "bcc", "nv"});  // byte order: upper case first
  CHECK(d.size() == 11);
  CHECK(d.class_counts() == std::vector<int64_t>{3, 3, 5});
  for (const Sample& s : d.samples) {
    CHECK(s.path.parent_path().filename().string() == (s.id == "deep" ? "nested" : d.classes[s.label]));
    CHECK(d.load(&s - d.samples.data()).width == 16);
  }
  REQUIRE(d.notes.size() == 1);
  CHECK(d.notes[0] == "ignored 1 image(s) directly under the root (no class folder)");

  const std::string table = class_summary(d, 4);
  CHECK(table.find("nv           5   45.5%") != std::string::npos);
  CHECK(table.find("total       11") != std::string::npos);
  CHECK(table.find("warning: class 'Mel' has only 3 image(s) (fewer than 4)") != std::string::npos);
  CHECK(table.find("warning: class 'nv'") == std::string::npos);
  CHECK(tiny_classes(d, 4) == std::vector<std::string>{"Mel", "bcc"});
}

TEST_CASE("data datasets: pre-split trees, with val and with val carved from train") {
  TempDir dir;
  write_folder_set(dir / "train", {{"a", 20}, {"b", 10}});
  write_folder_set(dir / "test", {{"a", 4}, {"b", 2}});
  PresplitOptions opt;
  opt.seed = 3;
  const SplitDataset s = load_presplit(dir.path(), opt);
  CHECK(s.data.classes == std::vector<std::string>{"a", "b"});
  CHECK(s.indices(Split::Test).size() == 6);
  // 20% of each class of train/ goes to val: 4 of a, 2 of b.
  const Dataset val = s.part(Split::Val);
  CHECK(val.class_counts() == std::vector<int64_t>{4, 2});
  CHECK(s.part(Split::Train).class_counts() == std::vector<int64_t>{16, 8});
  for (int64_t i : s.indices(Split::Val)) CHECK(s.data.samples[i].path.string().find("/train/") != std::string::npos);
  for (int64_t i : s.indices(Split::Test)) CHECK(s.data.samples[i].path.string().find("/test/") != std::string::npos);
  CHECK(s.data.notes.back().find("no val/ folder: carved 6 validation images") != std::string::npos);
  // Same seed, same carve; another seed, another carve.
  CHECK(load_presplit(dir.path(), opt).split == s.split);
  opt.seed = 4;
  CHECK(load_presplit(dir.path(), opt).split != s.split);

  write_folder_set(dir / "val", {{"a", 3}, {"b", 1}});
  const SplitDataset v = load_presplit(dir.path());
  CHECK(v.indices(Split::Val).size() == 4);
  CHECK(v.indices(Split::Train).size() == 30);

  // A class that has no folder in train/ cannot be learnt.
  write_folder_set(dir / "test", {{"c", 1}});
  CHECK_THROWS_WITH_AS(load_presplit(dir.path()), doctest::Contains("class 'c' appears in another part but has no folder in train/"),
                       DataError);
  CHECK_FALSE(is_presplit_tree(dir / "train"));
}

TEST_CASE("data datasets: CSV generic, HAM10000 metadata in part folders, ISIC one-hot") {
  TempDir dir;
  // HAM10000 as downloaded: images in two part folders, metadata CSV with lesion_id,image_id,dx.
  const std::vector<std::tuple<std::string, std::string, std::string>> rows = {
      {"HAM_1", "ISIC_0001", "nv"}, {"HAM_1", "ISIC_0002", "nv"}, {"HAM_2", "ISIC_0003", "mel"},
      {"HAM_3", "ISIC_0004", "bkl"}, {"HAM_3", "ISIC_0005", "bkl"}, {"HAM_4", "ISIC_0006", "mel"}};
  std::string meta = "lesion_id,image_id,dx,dx_type,age,sex,localization\n";
  int k = 0;
  for (const auto& [lesion, id, dx] : rows) {
    const char* part = (k++ % 2) ? "HAM10000_images_part_2" : "HAM10000_images_part_1";
    fixtures::write_file(dir / "ham" / part / (id + ".jpg"), fixtures::jpeg_bytes(fixtures::pattern(16, 16, k)));
    meta += lesion + "," + id + "," + dx + ",histo,45.0,male,\"back, upper\"\n";
  }
  fixtures::write_text(dir / "HAM10000_metadata.csv", meta);
  CsvOptions ham;
  ham.group_col = "lesion_id";
  const Dataset h = load_csv_dataset(dir / "HAM10000_metadata.csv", dir / "ham", ham);
  CHECK(h.classes == std::vector<std::string>{"bkl", "mel", "nv"});
  REQUIRE(h.size() == 6);
  CHECK(h.samples[0].id == "ISIC_0001");
  CHECK(h.samples[0].label == 2);
  CHECK(h.samples[0].group == "HAM_1");
  CHECK(h.samples[1].path.parent_path().filename() == "HAM10000_images_part_2");
  CHECK(h.samples[2].label == 1);

  // ISIC ground truth, one-hot with float values; classes are the lower-cased columns, sorted.
  fixtures::write_text(dir / "gt.csv",
                       "image,MEL,NV,BCC\nISIC_0001,0.0,1.0,0.0\nISIC_0003,1.0,0.0,0.0\nISIC_0004,0,0,1\n");
  const Dataset g = load_csv_dataset(dir / "gt.csv", dir / "ham");
  CHECK(g.classes == std::vector<std::string>{"bcc", "mel", "nv"});
  REQUIRE(g.size() == 3);
  CHECK(g.samples[0].label == 2);
  CHECK(g.samples[1].label == 1);
  CHECK(g.samples[2].label == 0);

  // Generic path,label with explicit columns and relative paths that exist as given.
  fixtures::write_text(dir / "generic.csv",
                       "file name,diag\nHAM10000_images_part_1/ISIC_0001.jpg,benign\nISIC_0002,malignant\n");
  CsvOptions gen;
  gen.path_col = "file name";
  gen.label_col = "diag";
  gen.classes = {"malignant", "benign"};
  const Dataset c = load_csv_dataset(dir / "generic.csv", dir / "ham", gen);
  CHECK(c.classes == std::vector<std::string>{"benign", "malignant"});
  CHECK(c.samples[0].label == 0);
  CHECK(c.samples[1].label == 1);
  CHECK(c.samples[1].path.filename() == "ISIC_0002.jpg");
}

TEST_CASE("data datasets: CSV parser handles quotes, CRLF, BOM and blank lines") {
  const CsvTable t = parse_csv("\xEF\xBB\xBFpath,label\r\n\"a,b.jpg\",\"say \"\"hi\"\"\"\r\n\r\nc.jpg,\"multi\nline\"\n", "t.csv");
  CHECK(t.header == std::vector<std::string>{"path", "label"});
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0][0] == "a,b.jpg");
  CHECK(t.rows[0][1] == "say \"hi\"");
  CHECK(t.rows[1][1] == "multi\nline");
  CHECK(t.lines == std::vector<int>{2, 4});
  // Writer and parser agree.
  const std::vector<std::string> fields{"x,y", "q\"uote", " pad ", "plain", ""};
  CHECK(parse_csv("h1,h2,h3,h4,h5\n" + csv_row(fields), "w.csv").rows[0] == fields);
  CHECK_THROWS_WITH_AS(parse_csv("a,b\n1,\"2\"x\n", "q.csv"), doctest::Contains("q.csv: line 2: unexpected text after a closing quote"),
                       DataError);
  CHECK_THROWS_WITH_AS(parse_csv("a,b\n1,2\"\n", "q.csv"), doctest::Contains("quote inside an unquoted field"), DataError);
}

TEST_CASE("data datasets: stratified 7:2:1 splits are exact per class, seeded, and grouped splits keep groups whole") {
  Dataset d;
  d.classes = {"a", "b", "c"};
  const int counts[3] = {100, 30, 7};
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < counts[c]; ++i)
      d.samples.push_back({fs::path("x"), c, std::to_string(c) + "_" + std::to_string(i), "L" + std::to_string(c) + "_" + std::to_string(i / 3)});
  SplitOptions opt;
  opt.seed = 11;
  const auto s = stratified_split(d, opt);
  for (int c = 0; c < 3; ++c) {
    int n[3] = {0, 0, 0};
    for (std::size_t i = 0; i < s.size(); ++i)
      if (d.samples[i].label == c) ++n[static_cast<int>(s[i])];
    CAPTURE(c);
    CHECK(n[0] == std::lround(counts[c] * 0.7));
    CHECK(n[1] == std::lround(counts[c] * 0.9) - std::lround(counts[c] * 0.7));
    CHECK(n[2] == counts[c] - std::lround(counts[c] * 0.9));
  }
  CHECK(stratified_split(d, opt) == s);
  opt.seed = 12;
  CHECK(stratified_split(d, opt) != s);

  opt.by_group = true;
  const auto g = stratified_split(d, opt);
  std::map<std::string, std::set<int>> parts_of_group;
  for (std::size_t i = 0; i < g.size(); ++i) parts_of_group[d.samples[i].group].insert(static_cast<int>(g[i]));
  for (const auto& [grp, parts] : parts_of_group) CHECK(parts.size() == 1);
  int train = 0;
  for (auto x : g) train += x == Split::Train;
  CHECK(std::abs(train - 0.7 * 137) < 8);  // whole groups of 3: close to, not exactly, 70%

  CHECK_THROWS_AS(stratified_split(d, SplitOptions{0.5, 0.2, 0.2, 0, false}), ValueError);
}

TEST_CASE("data datasets: split.csv round trip restores paths, labels, groups and parts") {
  TempDir dir;
  write_folder_set(dir / "data", {{"x", 6}, {"y, z", 4}});  // a class name with a comma
  SplitOptions opt;
  opt.seed = 5;
  SplitDataset s = make_split(load_folder_dataset(dir / "data"), opt);
  s.data.samples[0].group = "lesion \"7\"";
  write_split_csv(dir / "split.csv", s);
  const SplitDataset r = read_split_csv(dir / "split.csv", s.data.classes);
  CHECK(r.data.classes == s.data.classes);
  CHECK(r.split == s.split);
  REQUIRE(r.data.size() == s.data.size());
  for (std::size_t i = 0; i < s.split.size(); ++i) {
    CHECK(r.data.samples[i].label == s.data.samples[i].label);
    CHECK(fs::equivalent(r.data.samples[i].path, s.data.samples[i].path));
    CHECK(r.data.samples[i].path.is_absolute());
    CHECK(r.data.samples[i].group == s.data.samples[i].group);
  }
  CHECK_THROWS_WITH_AS(read_split_csv(dir / "split.csv", {"x"}), doctest::Contains("label 'y, z' is not one of the model's classes"),
                       DataError);
  fixtures::write_text(dir / "bad.csv", "split,label,path\ntrian,x,/a.png\n");
  CHECK_THROWS_WITH_AS(read_split_csv(dir / "bad.csv"), doctest::Contains("line 2: unknown split 'trian'"), DataError);
}
