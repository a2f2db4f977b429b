// Trainer<Cpu> end to end on tiny models and the synthetic dermoscopy set (32 px, simple_cnn at reduced
// width), so the whole file runs in seconds:
//   - learning: a tiny model reaches a stated test accuracy in a bounded number of steps;
//   - resume: k epochs + stop + a new Trainer with resume = true ends bit-identical (every tensor of the
//     final checkpoint: parameters, BatchNorm buffers, optimizer state) to an uninterrupted run, with the
//     same log rows — for Adam + cosine with warmup, SGD + Nesterov + step, and the plateau schedule;
//   - crash safety: a child process SIGKILLed at every phase of a checkpoint write leaves a loadable
//     checkpoint, and resuming from it still ends bit-identical to the uninterrupted run;
//   - the NaN guard: stop names the epoch and step; rollback reloads the last checkpoint with half the LR;
//   - saved models: load_saved_model + classify_image give the in-memory model's probabilities.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "skinnet/core/parallel.hpp"
#include "skinnet/data/all.hpp"
#include "skinnet/models/saved_model.hpp"
#include "skinnet/train/trainer.hpp"

namespace fs = std::filesystem;
using namespace skinnet;

namespace {

// All run directories live under one folder per test process, removed when the process exits normally
// (the forked children of the kill test leave through _exit or SIGKILL and never run this).
struct ScratchRoot {
  fs::path path = fs::temp_directory_path() / ("skinnet_test_trainer_" + std::to_string(::getpid()));
  ~ScratchRoot() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
const ScratchRoot scratch_root;

fs::path scratch(const std::string& name) {
  const fs::path p = scratch_root.path / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

SplitDataset tiny_synth(int per_class, uint64_t seed = 3) {
  SynthOptions so;
  so.per_class = per_class;
  so.image_size = 32;
  so.seed = seed;
  return make_split(synth_dataset(so), SplitOptions{0.6, 0.25, 0.15, seed, false});
}

TrainConfig tiny_config(const fs::path& out) {
  TrainConfig c;
  c.model = "simple_cnn";
  c.model_options.width_multiplier = 0.25;
  c.model_options.bn_momentum = 0.1f;
  c.image_size = 32;
  c.batch = 16;
  c.epochs = 3;
  c.seed = 11;
  c.workers = 2;
  c.augment = "hflip,vflip,rot90";
  c.progress = false;
  c.out = out;
  return c;
}

// Every tensor of a safetensors file by name, as raw floats.
std::map<std::string, std::vector<float>> tensors_of(const fs::path& file) {
  io::SafetensorsReader r(file);
  std::map<std::string, std::vector<float>> out;
  for (const auto& t : r.tensors()) out[t.name] = r.read_floats(t);
  return out;
}

// Bitwise equality of two files' tensors (memcmp: -0.0 vs 0.0 and NaN payloads count as differences).
void check_same_tensors(const fs::path& a, const fs::path& b) {
  const auto ta = tensors_of(a), tb = tensors_of(b);
  REQUIRE(ta.size() == tb.size());
  int64_t differing = 0;
  std::string first;
  for (const auto& [name, va] : ta) {
    const auto it = tb.find(name);
    REQUIRE_MESSAGE(it != tb.end(), name, " missing from ", b.string());
    REQUIRE(va.size() == it->second.size());
    if (std::memcmp(va.data(), it->second.data(), va.size() * sizeof(float)) != 0) {
      ++differing;
      if (first.empty()) first = name;
    }
  }
  CHECK_MESSAGE(differing == 0, differing, " tensors differ, first '", first, "' (", a.string(), " vs ", b.string(), ")");
}

// The checkpoint holds every parameter and buffer of the model and the optimizer state (so comparing
// its tensors compares all of them).
void check_checkpoint_is_complete(const fs::path& file, TrainConfig cfg, const SplitDataset& data) {
  cfg.resume = false;
  Trainer<Cpu> t(cfg, data);
  const auto tensors = tensors_of(file);
  size_t params = 0, buffers = 0, optim = 0;
  for (auto& p : t.model().parameters()) params += tensors.count(p.name);
  for (auto& b : t.model().buffers()) buffers += tensors.count(b.name);
  for (const auto& [name, v] : tensors) optim += name.rfind("optim.", 0) == 0;
  CHECK(params == t.model().parameters().size());
  CHECK(buffers == t.model().buffers().size());
  CHECK(buffers > 0);
  CHECK(optim >= params);  // at least one state tensor per trained parameter
}

// log.csv without the timing columns (seconds, images/s), which differ between runs.
std::vector<std::string> log_rows(const fs::path& dir) {
  std::ifstream f(dir / "log.csv");
  std::vector<std::string> rows;
  std::string line;
  while (std::getline(f, line)) {
    size_t cut = line.size();
    for (int i = 0; i < 2 && cut != std::string::npos; ++i) cut = line.rfind(',', cut - 1);
    rows.push_back(line.substr(0, cut));
  }
  return rows;
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Uninterrupted run vs. k epochs, stop, resume in a new Trainer.
void check_resume_is_exact(TrainConfig cfg, const SplitDataset& data, int64_t stop_after, const std::string& tag) {
  const fs::path a = scratch(tag + "_uninterrupted"), b = scratch(tag + "_resumed");
  cfg.out = a;
  Trainer<Cpu>(cfg, data).fit();

  cfg.out = b;
  cfg.stop_after_epochs = stop_after;
  CHECK(Trainer<Cpu>(cfg, data).fit().empty());  // stopped: no report yet
  CHECK(log_rows(b).size() == static_cast<size_t>(stop_after + 1));
  cfg.stop_after_epochs = 0;
  cfg.resume = true;
  Trainer<Cpu>(cfg, data).fit();

  check_checkpoint_is_complete(a / "last.safetensors", cfg, data);
  check_same_tensors(a / "last.safetensors", b / "last.safetensors");
  check_same_tensors(a / "best.safetensors", b / "best.safetensors");
  const auto ra = log_rows(a), rb = log_rows(b);
  CHECK(ra.size() == static_cast<size_t>(cfg.epochs + 1));
  CHECK(ra == rb);
}

}  // namespace

TEST_CASE("trainer: a tiny CNN learns the synthetic set to at least 0.8 test accuracy in 60 steps") {
  const SplitDataset data = tiny_synth(30);  // 7 classes x 30 = 210 images; 126 train -> 8 batches/epoch
  TrainConfig cfg = tiny_config(scratch("learn"));
  cfg.epochs = 5;
  cfg.lr = 3e-3;
  cfg.schedule = "cosine";
  Trainer<Cpu> t(cfg, data);
  const fs::path report = t.fit();
  const int64_t steps = 5 * ((data.part(Split::Train).size() + 15) / 16);
  CHECK(steps <= 60);
  const double acc = t.last_evaluation().summary.accuracy;
  MESSAGE("test accuracy after ", steps, " steps: ", acc, " (chance: ", 1.0 / 7.0, ")");
  CHECK(acc >= 0.8);
  CHECK(t.history().size() == 5);
  CHECK(fs::exists(report));
  for (const char* f : {"best.safetensors", "last.safetensors", "split.csv", "log.csv", "confusion_matrix.png",
                        "loss.png", "accuracy.png"})
    CHECK_MESSAGE(fs::exists(cfg.out / f), f);
}

TEST_CASE("trainer: --freeze-epochs trains only the classifier, then the whole network") {
  const SplitDataset data = tiny_synth(6);
  TrainConfig cfg = tiny_config(scratch("freeze"));
  cfg.epochs = 2;
  cfg.freeze_epochs = 1;
  cfg.stop_after_epochs = 1;
  std::map<std::string, std::vector<float>> initial;
  std::set<std::string> head;  // the classifier's parameters, by their full names
  {
    Trainer<Cpu> t(cfg, data);  // the same seed builds the same initial weights as the run below
    std::set<const Parameter<Cpu>*> head_params;
    for (auto& p : t.model().head().parameters()) head_params.insert(p.param);
    for (auto& p : t.model().parameters()) {
      initial[p.name] = p.param->value.to_vector();
      if (head_params.count(p.param)) head.insert(p.name);
    }
  }
  REQUIRE(head.size() == 2);  // weight and bias
  REQUIRE(initial.size() > head.size());
  auto is_head = [&](const std::string& name) { return head.count(name) > 0; };
  // Counts the parameters of the backbone and of the head that differ from their initial values.
  auto changed = [&](const fs::path& file, int& backbone, int& classifier) {
    backbone = classifier = 0;
    for (const auto& [name, v] : tensors_of(file)) {
      const auto it = initial.find(name);
      if (it == initial.end()) continue;  // buffers and optimizer state
      (is_head(name) ? classifier : backbone) += v != it->second;
    }
  };
  Trainer<Cpu>(cfg, data).fit();  // epoch 1: frozen backbone
  int backbone = 0, classifier = 0;
  changed(cfg.out / "last.safetensors", backbone, classifier);
  CHECK(backbone == 0);
  CHECK(classifier == static_cast<int>(head.size()));
  cfg.resume = true;
  cfg.stop_after_epochs = 0;
  Trainer<Cpu>(cfg, data).fit();  // epoch 2: everything trains
  changed(cfg.out / "last.safetensors", backbone, classifier);
  CHECK(backbone > 0);
  CHECK(backbone + classifier == static_cast<int>(initial.size()));
}

TEST_CASE("trainer: resume is bit-exact with Adam and cosine warmup") {
  const SplitDataset data = tiny_synth(12);
  TrainConfig cfg = tiny_config({});
  cfg.optimizer = "adam";
  cfg.weight_decay = 1e-4;
  cfg.schedule = "cosine";
  cfg.warmup_epochs = 1.5;  // the warmup crosses the stop point
  cfg.model_options.dropout = 0.3f;  // dropout masks depend on the step: they must continue exactly
  check_resume_is_exact(cfg, data, 1, "adam");
}

TEST_CASE("trainer: resume is bit-exact with SGD Nesterov, step schedule, class weights and label smoothing") {
  const SplitDataset data = tiny_synth(12);
  TrainConfig cfg = tiny_config({});
  cfg.optimizer = "sgd";
  cfg.nesterov = true;
  cfg.lr = 0.05;
  cfg.schedule = "step";
  cfg.step_epochs = 1;
  cfg.gamma = 0.5;
  cfg.class_weights = true;
  cfg.label_smoothing = 0.1;
  cfg.clip_norm = 5.0;
  check_resume_is_exact(cfg, data, 2, "sgd");
}

TEST_CASE("trainer: resume restores the reduce-on-plateau state") {
  const SplitDataset data = tiny_synth(12);
  TrainConfig cfg = tiny_config({});
  cfg.epochs = 4;
  cfg.schedule = "plateau";
  cfg.plateau_patience = 0;  // any epoch without improvement reduces the LR
  cfg.gamma = 0.5;
  cfg.monitor = "accuracy";  // saturates on this easy set: later epochs cannot improve on it
  cfg.lr = 2e-2;
  check_resume_is_exact(cfg, data, 2, "plateau");
  // The test means something only if the LR changed after the stop point, which needs the restored
  // plateau state (a fresh tracker would treat epoch 3 as its first, always "improving", epoch).
  std::vector<double> lrs;
  for (const auto& row : log_rows(scratch_root.path / "plateau_uninterrupted")) {
    if (row.rfind("epoch", 0) == 0) continue;
    lrs.push_back(std::stod(row.substr(row.find(',') + 1)));
  }
  REQUIRE(lrs.size() == 4);
  MESSAGE("plateau learning rates per epoch: ", lrs[0], " ", lrs[1], " ", lrs[2], " ", lrs[3]);
  CHECK(lrs[3] < lrs[0]);
}

TEST_CASE("trainer: SIGKILL during a checkpoint write leaves a loadable checkpoint, at every phase") {
  const SplitDataset data = tiny_synth(12);
  TrainConfig cfg = tiny_config({});
  cfg.epochs = 3;
  cfg.optimizer = "adam";
  cfg.monitor = "loss";
  cfg.workers = 1;

  const fs::path ref = scratch("kill_reference");
  cfg.out = ref;
  Trainer<Cpu> reference(cfg, data);
  reference.fit();
  // The kill must hit last.safetensors, not best.safetensors (written first when the epoch improves):
  // pick a second or third epoch whose validation loss did not improve on the best so far.
  const auto& h = reference.history();
  int64_t kill_epoch = 0;
  double best = h[0].val_loss;
  for (size_t e = 1; e < h.size(); ++e) {
    if (h[e].val_loss >= best && kill_epoch == 0) kill_epoch = static_cast<int64_t>(e) + 1;
    best = std::min(best, h[e].val_loss);
  }
  if (kill_epoch == 0) kill_epoch = 2;  // every epoch improved: the kill then hits best.safetensors first
  MESSAGE("killing during the checkpoint write of epoch ", kill_epoch);

  const fs::path base = scratch("kill_base");
  cfg.out = base;
  cfg.stop_after_epochs = kill_epoch - 1;
  Trainer<Cpu>(cfg, data).fit();
  const std::string before = read_file(base / "last.safetensors");
  REQUIRE(!before.empty());

  for (const char* phase : {"after_open", "after_header", "mid_data", "before_fsync", "before_rename", "after_rename"}) {
    CAPTURE(phase);
    const fs::path dir = scratch(std::string("kill_") + phase);
    fs::copy(base, dir, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    TrainConfig child_cfg = cfg;
    child_cfg.out = dir;
    child_cfg.resume = true;
    child_cfg.stop_after_epochs = kill_epoch;
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // The child: one thread (OpenMP's pool does not survive fork), the kill point armed.
      set_num_threads(1);
      ::setenv("SKINNET_TEST_KILL_AT", phase, 1);
      try {
        Trainer<Cpu>(child_cfg, data).fit();
      } catch (...) {
        ::_exit(3);
      }
      ::_exit(0);  // not killed: the parent reports it
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "the child was not killed (exit status ", WEXITSTATUS(status), ")");
    CHECK(WTERMSIG(status) == SIGKILL);

    // Which file was being written: a killed write leaves "<target>.tmp.<pid>" behind (until after_rename).
    std::string victim;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().filename().string().find(".tmp.") != std::string::npos) victim = e.path().filename().string();
    const bool renamed = std::string(phase) == "after_rename";
    CHECK(renamed == victim.empty());
    if (!renamed && h[static_cast<size_t>(kill_epoch - 1)].val_loss >= h[0].val_loss)
      CHECK_MESSAGE(victim.rfind("last.safetensors.tmp.", 0) == 0, victim);

    // The checkpoint loads: the old one untouched before the rename, the complete new one after it.
    {
      TrainConfig probe = cfg;
      probe.out = dir;
      Trainer<Cpu> t(probe, data);
      auto opt = std::make_unique<Adam<Cpu>>(t.model().parameters(), AdamOptions{});
      TrainState st;
      const bool new_checkpoint = renamed && victim.empty() && read_file(dir / "last.safetensors") != before;
      REQUIRE_NOTHROW(st = load_checkpoint(dir / "last.safetensors", t.model(), *opt));
      CHECK(st.epochs_done == (new_checkpoint ? kill_epoch : kill_epoch - 1));
      if (!renamed) CHECK(read_file(dir / "last.safetensors") == before);
    }
    // Resuming from whatever survived ends exactly where the uninterrupted run did.
    fs::remove_all(dir / "best.safetensors.tmp");
    TrainConfig finish = cfg;
    finish.out = dir;
    finish.resume = true;
    finish.stop_after_epochs = 0;
    Trainer<Cpu>(finish, data).fit();
    check_same_tensors(ref / "last.safetensors", dir / "last.safetensors");
    CHECK(log_rows(ref) == log_rows(dir));
  }
}

TEST_CASE("trainer: the NaN guard stops with the epoch and step, or rolls back with half the LR") {
  const SplitDataset data = tiny_synth(12);
  TrainConfig cfg = tiny_config(scratch("nan_stop"));
  cfg.optimizer = "sgd";
  cfg.momentum = 0.9;
  cfg.schedule = "constant";
  cfg.lr = 1e6;  // diverges within the first few steps
  cfg.epochs = 2;
  try {
    Trainer<Cpu>(cfg, data).fit();
    FAIL("training with lr 1e6 did not stop");
  } catch (const NumericError& e) {
    const std::string msg = e.what();
    MESSAGE(msg);
    // Either "the loss became NaN or Inf at epoch E, step S (batch B of the epoch, ...)" or, when only the
    // weights / BatchNorm statistics overflowed, "'<tensor>' holds NaN or Inf after epoch E (step S, ...)".
    CHECK(msg.find("NaN or Inf") != std::string::npos);
    const size_t e_at = msg.find("epoch "), s_at = msg.find("step ");
    REQUIRE(e_at != std::string::npos);
    REQUIRE(s_at != std::string::npos);
    const long epoch = std::atol(msg.c_str() + e_at + 6), step = std::atol(msg.c_str() + s_at + 5);
    const long per_epoch = static_cast<long>((data.part(Split::Train).size() + 15) / 16);
    CHECK(epoch >= 1);
    CHECK(step >= 1);
    CHECK(step > (epoch - 1) * per_epoch);
    CHECK(step <= epoch * per_epoch);
    CHECK(msg.find("Lower --lr") != std::string::npos);
  }

  // Rollback: epoch 1 at a sane LR writes a checkpoint; resumed with an absurd LR, epoch 2 diverges, and
  // each rollback reloads that checkpoint (weights, BatchNorm statistics, optimizer state, counters) and
  // halves the LR. Here no halving is enough, so after max_rollbacks it gives up, naming the last LR
  // tried (1e6 / 2^3), and the checkpoint on disk is still the healthy one of epoch 1.
  const fs::path dir = scratch("nan_rollback");
  cfg.out = dir;
  cfg.lr = 0.05;
  cfg.epochs = 3;
  cfg.stop_after_epochs = 1;
  Trainer<Cpu>(cfg, data).fit();
  cfg.stop_after_epochs = 0;
  cfg.resume = true;
  cfg.lr = 1e6;
  cfg.nan_policy = "rollback";
  cfg.max_rollbacks = 3;
  try {
    Trainer<Cpu>(cfg, data).fit();
    FAIL("training with lr 1e6 did not stop");
  } catch (const NumericError& e) {
    const std::string msg = e.what();
    MESSAGE(msg);
    CHECK(msg.find("after epoch 2") != std::string::npos);
    CHECK(msg.find("learning rate 125000") != std::string::npos);
    CHECK(msg.find("rollback gave up: 3 rollback(s) already made") != std::string::npos);
  }
  Trainer<Cpu> probe(tiny_config(dir), data);
  SgdOptions so;
  so.momentum = 0.9;
  auto opt = std::make_unique<Sgd<Cpu>>(probe.model().parameters(), so);
  const TrainState st = load_checkpoint(dir / "last.safetensors", probe.model(), *opt);
  CHECK(st.epochs_done == 1);
  CHECK(st.lr_scale == 1.0);
  for (auto& p : probe.model().parameters())
    for (float v : p.param->value.to_vector()) REQUIRE(std::isfinite(v));
  CHECK(log_rows(dir).size() == 2);  // header + epoch 1: the failed attempts left no rows
}

TEST_CASE("saved model: load_saved_model and classify_image reproduce the in-memory model") {
  const fs::path dir = scratch("saved");
  ModelOptions mo;
  mo.seed = 5;
  mo.image_size = 32;
  mo.width_multiplier = 1.0 / 3.0;  // not a short decimal: the metadata must round-trip it exactly
  auto model = create_model<Cpu>("simple_cnn", 7, mo);
  // Non-trivial BatchNorm statistics, so that a loader that dropped buffers would be caught.
  int k = 0;
  for (auto& b : model->buffers()) {
    std::vector<float> v = b.value->to_vector();
    for (float& x : v) x = 0.5f + 0.05f * static_cast<float>(k++ % 17);  // > 0: valid as a variance too
    *b.value = Tensor<Cpu>::from_vector(b.value->shape(), v);
  }
  io::ModelInfo info;
  info.architecture = "simple_cnn";
  info.class_names = synth_class_names();
  info.input_size = 32;
  info.normalization = "tf";
  info.extra["width_multiplier"] = checkpoint_detail::exact(mo.width_multiplier);
  io::save_model(dir / "model.safetensors", *model, info);

  const Image img = synth_image(4, 7, 32, 1);
  write_png(dir / "lesion.png", img);

  // In memory: pixels / 127.5 - 1 (the "tf" preset), one forward pass, softmax in double.
  std::vector<float> x(img.pixels.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(img.pixels[i]) / 127.5f - 1.0f;
  const std::vector<float> logits =
      model->forward(Tensor<Cpu>::from_vector(Shape::nhwc(1, 32, 32, 3), x), Mode::Infer).to_vector();
  REQUIRE(logits.size() == 7);
  double m = logits[0], s = 0;
  for (float z : logits) m = std::max(m, static_cast<double>(z));
  for (float z : logits) s += std::exp(static_cast<double>(z) - m);

  auto saved = load_saved_model<Cpu>(dir / "model.safetensors");
  CHECK(saved.info.class_names == synth_class_names());
  const auto top = classify_image(saved, dir / "lesion.png", 7);
  REQUIRE(top.size() == 7);
  double total = 0;
  for (size_t i = 0; i < top.size(); ++i) {
    const auto it = std::find(info.class_names.begin(), info.class_names.end(), top[i].first);
    REQUIRE(it != info.class_names.end());
    const double expected = std::exp(static_cast<double>(logits[static_cast<size_t>(it - info.class_names.begin())]) - m) / s;
    CHECK(top[i].second == doctest::Approx(expected).epsilon(1e-5));
    if (i > 0) CHECK(top[i].second <= top[i - 1].second);
    total += top[i].second;
  }
  CHECK(total == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(classify_image(saved, dir / "lesion.png", 3).size() == 3);
  // A file that is not a model is refused with its name.
  CHECK_THROWS_WITH_AS(load_saved_model<Cpu>(dir / "lesion.png"), doctest::Contains("lesion.png"), IoError);
}
