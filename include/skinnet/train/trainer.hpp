#pragma once
// Trainer<D>: trains a zoo model on a split dataset and keeps everything a person needs afterwards in
// one run directory (DESIGN.md §8 "Runs"):
//
//   runs/NAME/best.safetensors   the model at its best validation epoch (by `monitor`)
//   runs/NAME/last.safetensors   checkpoint of the last completed epoch (weights, buffers, optimizer
//                                state, step and counters): --resume continues from it bit-exactly
//   runs/NAME/split.csv          which image went to train / val / test
//   runs/NAME/log.csv            one row per epoch
//   runs/NAME/report.md (+ PNG)  the test-split evaluation of the best model, with curves
//
// One epoch: the loader yields augmented batches (worker threads, deterministic for the seed); for each
// batch forward (Mode::Train) -> softmax cross-entropy -> backward -> optional gradient clipping ->
// optimizer step, with the learning rate of the schedule at that step. Then validation (Mode::Infer),
// the CSV row, checkpoints, early stopping and reduce-on-plateau.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include "skinnet/data/loader.hpp"
#include "skinnet/data/split_file.hpp"
#include "skinnet/models/zoo.hpp"
#include "skinnet/train/adam.hpp"
#include "skinnet/train/adamw.hpp"
#include "skinnet/train/checkpoint.hpp"
#include "skinnet/train/class_weights.hpp"
#include "skinnet/train/clip.hpp"
#include "skinnet/train/evaluate.hpp"
#include "skinnet/train/loss.hpp"
#include "skinnet/train/run_report.hpp"
#include "skinnet/train/schedule.hpp"
#include "skinnet/train/sgd.hpp"

namespace skinnet {

struct TrainConfig {
  std::string model = "simple_cnn";
  ModelOptions model_options;  // seed, dropout, width... (image_size: see below)
  int image_size = 0;          // 0: the model's default resolution
  int epochs = 10;
  int batch = 16;
  std::string optimizer = "adam";  // sgd | adam | adamw
  double lr = 1e-3, weight_decay = 0.0, momentum = 0.9;
  bool nesterov = false;
  std::string schedule = "cosine";  // constant | step | cosine | poly | plateau
  double warmup_epochs = 0.0;
  int step_epochs = 10;            // step schedule: multiply by gamma every step_epochs
  double gamma = 0.1;              // step schedule factor; plateau factor
  int plateau_patience = 3;
  double label_smoothing = 0.0;
  bool class_weights = false;      // inverse-frequency class weights in the loss
  bool balanced = false;           // class-balanced sampling instead
  double clip_norm = 0.0;          // 0: no clipping
  int patience = 0;                // early stopping: epochs without improvement; 0: off
  std::string monitor = "balanced_accuracy";  // balanced_accuracy | accuracy | macro_f1 | loss
  std::string augment;             // e.g. "hflip,vflip,rot90"
  std::string normalization;       // empty: the model's preset
  uint64_t seed = 1;
  int workers = 2;
  std::filesystem::path out = "runs/run";
  bool resume = false;
  // End fit() after this many completed epochs (0: off), exactly as if the process had been stopped
  // right after that epoch's checkpoint; the schedule still spans `epochs`. For time-boxed jobs and for
  // testing --resume.
  int64_t stop_after_epochs = 0;
  int64_t max_batches = 0;         // per epoch (quick demos); 0: all
  int freeze_epochs = 0;           // train only the classifier for the first N epochs (fine-tuning)
  std::string nan_policy = "stop";  // stop | rollback (reload last checkpoint, halve the LR)
  int max_rollbacks = 3;           // rollback: give up (NumericError) after this many in one fit()
  bool progress = true;
  std::string command_line;        // recorded in the report
  std::map<std::string, std::string> extra_metadata;  // copied into the model files (e.g. data source)
};

template <class D>
class Trainer {
 public:
  Trainer(TrainConfig cfg, SplitDataset data) : cfg_(std::move(cfg)), data_(std::move(data)) {
    SKN_REQUIRE(cfg_.epochs >= 1, ValueError, "train: --epochs must be >= 1, got ", cfg_.epochs);
    SKN_REQUIRE(cfg_.batch >= 1, ValueError, "train: --batch must be >= 1, got ", cfg_.batch);
    SKN_REQUIRE(cfg_.monitor == "balanced_accuracy" || cfg_.monitor == "accuracy" || cfg_.monitor == "macro_f1" ||
                    cfg_.monitor == "loss",
                ValueError, "train: unknown --monitor '", cfg_.monitor, "' (balanced_accuracy, accuracy, macro_f1, loss)");
    SKN_REQUIRE(cfg_.nan_policy == "stop" || cfg_.nan_policy == "rollback", ValueError,
                "train: --nan-policy must be stop or rollback, got '", cfg_.nan_policy, "'");
    train_set_ = data_.part(Split::Train);
    val_set_ = data_.part(Split::Val);
    test_set_ = data_.part(Split::Test);
    SKN_REQUIRE(train_set_.size() > 0, DataError, "train: the training split of ", data_.data.source, " is empty");
    SKN_REQUIRE(val_set_.size() > 0, DataError, "train: the validation split of ", data_.data.source,
                " is empty (use a larger dataset or another --split)");
    ModelOptions mo = cfg_.model_options;
    mo.seed = cfg_.seed;
    if (cfg_.image_size > 0) mo.image_size = cfg_.image_size;
    model_ = create_model<D>(cfg_.model, data_.data.num_classes(), mo);
    image_size_ = static_cast<int>(model_->config().input_size);
    norm_ = cfg_.normalization.empty() ? model_->config().normalization : cfg_.normalization;
    uint32_t stream = 1;
    model_->set_rng(cfg_.seed, stream);
    // Training never reads the gradient with respect to the images: the stem convolution skips it.
    // (At batch 16, 224^2 on the Zen 5 VM that input gradient alone took 51 ms for SE-ResNet-50's 7x7
    // stem and 13.5 ms for EfficientNet-B0's, against whole steps of ~1300 and ~320 ms.)
    model_->set_input_grad(false);
    make_optimizer();
    LossOptions lo;
    lo.label_smoothing = static_cast<float>(cfg_.label_smoothing);
    if (cfg_.class_weights) {
      std::vector<int> labels;
      for (const auto& s : train_set_.samples) labels.push_back(s.label);
      lo.class_weights = to_float_weights(inverse_frequency_weights(class_counts(labels, data_.data.num_classes())));
    }
    loss_ = SoftmaxCrossEntropy<D>(lo);
    if (cfg_.class_weights && cfg_.balanced)
      say("train: warning: --class-weights with --balanced corrects the class imbalance twice (rare classes then "
          "outweigh common ones); use one of them\n");
  }

  Classifier<D>& model() { return *model_; }
  const std::vector<EpochLog>& history() const { return history_; }
  const std::filesystem::path& run_dir() const { return cfg_.out; }

  // Trains for the configured epochs (or until early stopping); then evaluates the best model on the
  // test split (the validation split when there is no test split) and writes the report. Returns the
  // report's path (empty when stop_after_epochs ended the run early: no report yet).
  std::filesystem::path fit() {
    namespace fs = std::filesystem;
    fs::create_directories(cfg_.out);
    write_split_csv(cfg_.out / "split.csv", data_);
    TrainState st;
    st.lr = cfg_.lr;
    st.best_metric = monitor_max() ? -INFINITY : INFINITY;
    if (cfg_.resume) st = resume_state();
    restore_plateau(st);
    Loader train_loader(train_set_, loader_options(true));
    Loader val_loader(val_set_, loader_options(false));
    const int64_t bpe = cfg_.max_batches > 0 ? std::min(cfg_.max_batches, train_loader.batches_per_epoch())
                                             : train_loader.batches_per_epoch();
    auto schedule = make_schedule(bpe, st.lr_scale);
    int rollbacks = 0;
    say("train: ", cfg_.model, " on ", data_.data.source, " — ", train_set_.size(), " train / ", val_set_.size(),
        " val / ", test_set_.size(), " test images, ", data_.data.num_classes(), " classes, ", image_size_, "x",
        image_size_, ", ", model_->parameter_count(), " parameters, device ", D::name, "\n");
    say("       ", optimizer_->describe(), "; schedule ", cfg_.schedule, "; batch ", cfg_.batch, "; augment '",
        cfg_.augment, "'; run directory ", cfg_.out.string(), "\n");

    for (int64_t epoch = st.epochs_done; epoch < cfg_.epochs; ++epoch) {
      model_->set_backbone_trainable(epoch >= cfg_.freeze_epochs);
      const auto t0 = std::chrono::steady_clock::now();
      train_loader.start_epoch(static_cast<uint32_t>(epoch));
      double loss_sum = 0;
      int64_t seen = 0, correct = 0, b = 0;
      bool diverged = false;
      while (auto batch = train_loader.next()) {
        if (b >= bpe) break;
        const double lr = schedule ? schedule->lr_at(st.step) : st.lr;
        optimizer_->set_lr(lr);
        model_->set_step(static_cast<uint32_t>(st.step));
        Tensor<D> logits = model_->forward(transfer<D>(batch->images), Mode::Train);
        const float loss = loss_.forward(logits, batch->labels);
        if (!std::isfinite(loss)) {
          diverged = true;
          break;
        }
        model_->zero_grad();
        model_->backward(loss_.backward());
        auto params = model_->parameters();
        if (cfg_.clip_norm > 0) clip_grad_norm(params, cfg_.clip_norm);
        optimizer_->step();
        ++st.step;
        const int64_t n = static_cast<int64_t>(batch->labels.size());
        loss_sum += static_cast<double>(loss) * static_cast<double>(n);
        seen += n;
        correct += count_correct(logits.to_vector(), batch->labels);
        ++b;
        progress_bar(epoch, b, bpe, loss_sum / static_cast<double>(seen),
                     static_cast<double>(correct) / static_cast<double>(seen), seen, t0);
      }
      // A finite loss does not prove finite weights: BatchNorm hides huge (even infinite) convolution weights
      // from the training loss, and running statistics are only used at inference. A checkpoint must never
      // hold a NaN, so the whole model is checked before validation and the checkpoint write.
      std::string where;
      if (diverged) {
        // st.step is the step whose forward pass produced the non-finite loss (it was not taken).
        where = detail::concat("train: the loss became NaN or Inf at epoch ", epoch + 1, ", step ", st.step + 1,
                               " (batch ", b + 1, " of the epoch, learning rate ", optimizer_->lr(), ")");
      } else if (const std::string bad = first_non_finite_tensor(); !bad.empty()) {
        diverged = true;
        where = detail::concat("train: '", bad, "' holds NaN or Inf after epoch ", epoch + 1, " (step ", st.step,
                               ", learning rate ", optimizer_->lr(), ")");
      }
      // Validation (finite weights can still overflow to Inf logits at inference).
      Predictions vp;
      if (!diverged) {
        vp = predict(*model_, val_loader);
        if (!std::all_of(vp.probs.begin(), vp.probs.end(), [](float v) { return std::isfinite(v); })) {
          diverged = true;
          where = detail::concat("train: the validation outputs became NaN or Inf after epoch ", epoch + 1, " (step ",
                                 st.step, ", learning rate ", optimizer_->lr(), ")");
        }
      }
      if (diverged) {
        const auto last = cfg_.out / "last.safetensors";
        if (cfg_.nan_policy == "rollback" && rollbacks < cfg_.max_rollbacks && fs::exists(last)) {
          // Back to the end of the last completed epoch (weights, BN statistics, optimizer state, counters,
          // plateau state) with half the learning rate, then redo the epochs from there. The lower rate is
          // part of the state (lr_scale), so it survives later checkpoints and a --resume.
          ++rollbacks;
          const double scale = st.lr_scale * 0.5;
          st = load_checkpoint(last, *model_, *optimizer_);
          st.lr_scale = scale;
          st.lr *= 0.5;
          if (st.plateau.count("plateau.lr")) st.plateau["plateau.lr"] *= 0.5;
          restore_plateau(st);
          optimizer_->set_lr(st.lr);
          schedule = make_schedule(bpe, st.lr_scale);
          history_.resize(static_cast<size_t>(std::min<int64_t>(st.epochs_done, static_cast<int64_t>(history_.size()))));
          say("\n", where, "; rolled back to ", last.string(), " (after epoch ", st.epochs_done,
              ") and halved the learning rate (now ", st.lr_scale, " x --lr); rollback ", rollbacks, " of at most ",
              cfg_.max_rollbacks, "\n");
          epoch = st.epochs_done - 1;  // the loop's ++epoch redoes the first epoch after the checkpoint
          continue;
        }
        if (cfg_.nan_policy == "rollback")
          throw NumericError(detail::concat(where, ". --nan-policy rollback gave up: ",
                                            fs::exists(last) ? detail::concat(rollbacks, " rollback(s) already made")
                                                             : std::string("no checkpoint to roll back to yet"),
                                            ". Lower --lr or add --clip-norm."));
        throw NumericError(where + ". Lower --lr, add --clip-norm, or use --nan-policy rollback.");
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!schedule) st.lr = optimizer_->lr();
      const Evaluation ve = evaluate_predictions(vp.labels, vp.probs, vp.num_classes);
      EpochLog log;
      log.epoch = epoch + 1;
      log.lr = optimizer_->lr();
      log.train_loss = loss_sum / static_cast<double>(std::max<int64_t>(seen, 1));
      log.train_acc = static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(seen, 1));
      log.val_loss = vp.mean_loss;
      log.val_acc = ve.summary.accuracy;
      log.val_balanced_acc = ve.summary.balanced_accuracy;
      log.val_macro_f1 = ve.summary.macro.f1;
      log.seconds = seconds;
      log.images_per_second = static_cast<double>(seen) / std::max(seconds, 1e-9);
      history_.push_back(log);
      append_log(log);
      const double metric = monitored(log);
      const bool improved = monitor_max() ? metric > st.best_metric : metric < st.best_metric;
      if (improved) {
        st.best_metric = metric;
        st.best_epoch = epoch + 1;
        st.bad_epochs = 0;
        io::save_model(cfg_.out / "best.safetensors", *model_, model_info());
      } else {
        ++st.bad_epochs;
      }
      if (cfg_.schedule == "plateau") plateau_update(st, metric);
      st.epochs_done = epoch + 1;
      save_checkpoint(cfg_.out / "last.safetensors", *model_, *optimizer_, model_info(), st);
      say(progress_prefix(epoch), "train loss ", fixed(log.train_loss), " acc ", fixed(log.train_acc), " | val loss ",
          fixed(log.val_loss), " acc ", fixed(log.val_acc), " bal.acc ", fixed(log.val_balanced_acc), " | ",
          fixed(log.images_per_second, 1), " img/s, ", fixed(seconds, 1), " s", improved ? "  * best" : "", "\n");
      if (cfg_.patience > 0 && st.bad_epochs >= cfg_.patience) {
        say("train: early stop — no improvement of ", cfg_.monitor, " for ", cfg_.patience, " epochs\n");
        break;
      }
      if (cfg_.stop_after_epochs > 0 && st.epochs_done >= cfg_.stop_after_epochs && st.epochs_done < cfg_.epochs) {
        say("train: stopping after epoch ", st.epochs_done, " as asked; continue with --resume\n");
        return {};
      }
    }
    return final_report(st);
  }

 private:
  template <class... Parts>
  void say(Parts&&... parts) const {
    if (!cfg_.progress) return;
    const std::string s = detail::concat(std::forward<Parts>(parts)...);
    std::fputs(s.c_str(), stderr);
    std::fflush(stderr);
  }
  static std::string fixed(double v, int digits = 4) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
  }
  std::string progress_prefix(int64_t epoch) const {
    return detail::concat(is_tty() ? "\r\033[K" : "", "epoch ", epoch + 1, "/", cfg_.epochs, "  ");
  }
  static bool is_tty() { return isatty(fileno(stderr)) != 0; }

  void progress_bar(int64_t epoch, int64_t done, int64_t total, double loss, double acc, int64_t images,
                    std::chrono::steady_clock::time_point t0) const {
    if (!cfg_.progress) return;
    // On a terminal: one line redrawn per batch. In a log file: a line at every 10% only.
    const bool tty = is_tty();
    if (!tty && done != total && (done * 10 / total) == ((done - 1) * 10 / total)) return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double eta = elapsed / static_cast<double>(done) * static_cast<double>(total - done);
    const int width = 24;
    const int filled = static_cast<int>(width * done / total);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '-');
    say(tty ? "\r\033[K" : "", "epoch ", epoch + 1, "/", cfg_.epochs, " [", bar, "] ", done, "/", total, " loss ",
        fixed(loss), " acc ", fixed(acc, 3), " | ", fixed(static_cast<double>(images) / std::max(elapsed, 1e-9), 1),
        " img/s | ETA ", static_cast<int>(eta) / 60, ":", (static_cast<int>(eta) % 60 < 10 ? "0" : ""),
        static_cast<int>(eta) % 60, tty ? "" : "\n");
  }

  // Name of the first parameter or buffer with a NaN or Inf element; empty when all are finite.
  std::string first_non_finite_tensor() {
    auto finite = [](const Tensor<D>& t) {
      for (float v : t.to_vector())
        if (!std::isfinite(v)) return false;
      return true;
    };
    for (auto& p : model_->parameters())
      if (!finite(p.param->value)) return p.name;
    for (auto& b : model_->buffers())
      if (!finite(*b.value)) return b.name;
    return {};
  }

  static int64_t count_correct(const std::vector<float>& logits, const std::vector<int>& labels) {
    const size_t k = logits.size() / std::max<size_t>(labels.size(), 1);
    int64_t c = 0;
    for (size_t i = 0; i < labels.size(); ++i) {
      const auto row = logits.begin() + static_cast<std::ptrdiff_t>(i * k);
      if (std::max_element(row, row + static_cast<std::ptrdiff_t>(k)) - row == labels[i]) ++c;
    }
    return c;
  }

  bool monitor_max() const { return cfg_.monitor != "loss"; }
  double monitored(const EpochLog& l) const {
    if (cfg_.monitor == "accuracy") return l.val_acc;
    if (cfg_.monitor == "macro_f1") return l.val_macro_f1;
    if (cfg_.monitor == "loss") return l.val_loss;
    return l.val_balanced_acc;
  }

  LoaderOptions loader_options(bool training) const {
    LoaderOptions o;
    o.batch_size = cfg_.batch;
    o.image_size = image_size_;
    o.norm = parse_norm(norm_);
    o.workers = cfg_.workers;
    o.seed = cfg_.seed;
    o.shuffle = training;
    o.balanced = training && cfg_.balanced;
    if (training) o.augment = parse_augment(cfg_.augment);
    return o;
  }

  void make_optimizer() {
    auto params = model_->parameters();
    if (cfg_.optimizer == "sgd") {
      SgdOptions o;
      o.lr = cfg_.lr;
      o.momentum = cfg_.momentum;
      o.nesterov = cfg_.nesterov;
      o.weight_decay = cfg_.weight_decay;
      optimizer_ = std::make_unique<Sgd<D>>(params, o);
    } else if (cfg_.optimizer == "adam") {
      AdamOptions o;
      o.lr = cfg_.lr;
      o.weight_decay = cfg_.weight_decay;
      optimizer_ = std::make_unique<Adam<D>>(params, o);
    } else if (cfg_.optimizer == "adamw") {
      AdamWOptions o;
      o.lr = cfg_.lr;
      if (cfg_.weight_decay > 0) o.weight_decay = cfg_.weight_decay;
      optimizer_ = std::make_unique<AdamW<D>>(params, o);
    } else {
      throw ValueError("train: unknown --optimizer '" + cfg_.optimizer + "' (sgd, adam, adamw)");
    }
  }

  // nullptr for the plateau schedule, which changes the LR between epochs only.
  // lr_scale: 1, or less after NaN rollbacks (the whole schedule is scaled).
  std::unique_ptr<LrSchedule> make_schedule(int64_t batches_per_epoch, double lr_scale) const {
    const int64_t total = std::max<int64_t>(1, batches_per_epoch * cfg_.epochs);
    const int64_t warmup = static_cast<int64_t>(cfg_.warmup_epochs * static_cast<double>(batches_per_epoch));
    const double lr = cfg_.lr * lr_scale;
    if (cfg_.schedule == "constant") return std::make_unique<ConstantLr>(lr);
    if (cfg_.schedule == "step")
      return std::make_unique<StepLr>(lr, std::max<int64_t>(1, cfg_.step_epochs * batches_per_epoch), cfg_.gamma);
    if (cfg_.schedule == "cosine") return std::make_unique<CosineLr>(lr, total, warmup);
    if (cfg_.schedule == "poly") return std::make_unique<PolyLr>(lr, total, 0.9, 0.0, warmup);
    if (cfg_.schedule == "plateau") return nullptr;
    throw ValueError("train: unknown --schedule '" + cfg_.schedule + "' (constant, step, cosine, poly, plateau)");
  }

  // The plateau schedule's tracker (best metric, bad epochs, cooldown, current LR) is part of the
  // checkpoint: it is rebuilt here from TrainState::plateau at the start of fit() (fresh when empty) and
  // after a rollback, so a resumed run reduces the LR at exactly the epochs an uninterrupted one does.
  void restore_plateau(TrainState& st) {
    if (cfg_.schedule != "plateau") return;
    ReduceLrOnPlateau::Options o;
    o.mode = monitor_max() ? MetricMode::Max : MetricMode::Min;
    o.patience = cfg_.plateau_patience;
    o.factor = cfg_.gamma;
    plateau_ = std::make_unique<ReduceLrOnPlateau>(cfg_.lr * st.lr_scale, o);
    if (!st.plateau.empty()) plateau_->load_state(st.plateau);
    st.plateau = plateau_->state();
    st.lr = plateau_->lr();
    optimizer_->set_lr(st.lr);
  }
  void plateau_update(TrainState& st, double metric) {
    const double lr = plateau_->update(metric);
    optimizer_->set_lr(lr);
    st.lr = lr;
    st.plateau = plateau_->state();
  }

  TrainState resume_state() {
    const auto path = cfg_.out / "last.safetensors";
    SKN_REQUIRE(std::filesystem::exists(path), IoError, "train --resume: no checkpoint at ", path.string());
    TrainState st = load_checkpoint(path, *model_, *optimizer_);
    optimizer_->set_lr(st.lr);
    // The log keeps the epochs before the resume.
    std::ifstream f(cfg_.out / "log.csv");
    std::string line;
    std::getline(f, line);
    while (std::getline(f, line)) {
      EpochLog l;
      if (std::sscanf(line.c_str(), "%ld,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &l.epoch, &l.lr, &l.train_loss, &l.train_acc,
                      &l.val_loss, &l.val_acc, &l.val_balanced_acc, &l.val_macro_f1, &l.seconds,
                      &l.images_per_second) == 10 &&
          l.epoch <= st.epochs_done)
        history_.push_back(l);
    }
    say("train: resumed from ", path.string(), " after epoch ", st.epochs_done, " (step ", st.step, ")\n");
    return st;
  }

  void append_log(const EpochLog& l) {
    const auto path = cfg_.out / "log.csv";
    // Rewritten whole each epoch (atomically), so a resumed run's log never holds stale rows.
    std::string text = "epoch,lr,train_loss,train_acc,val_loss,val_acc,val_balanced_acc,val_macro_f1,seconds,images_per_s\n";
    char buf[512];
    for (const auto& h : history_) {
      std::snprintf(buf, sizeof buf, "%ld,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.3f,%.3f\n", static_cast<long>(h.epoch), h.lr,
                    h.train_loss, h.train_acc, h.val_loss, h.val_acc, h.val_balanced_acc, h.val_macro_f1, h.seconds,
                    h.images_per_second);
      text += buf;
    }
    (void)l;
    write_text_file(path, text);
  }

  io::ModelInfo model_info() const {
    io::ModelInfo info;
    info.architecture = cfg_.model;
    info.class_names = data_.data.classes;
    info.input_size = image_size_;
    info.normalization = norm_;
    info.extra["width_multiplier"] = checkpoint_detail::exact(cfg_.model_options.width_multiplier);  // round-trips
    info.extra["activation"] = act_name(cfg_.model_options.activation);
    for (const auto& [k, v] : cfg_.extra_metadata) info.extra[k] = v;
    return info;
  }

  std::filesystem::path final_report(const TrainState& st) {
    namespace fs = std::filesystem;
    if (fs::exists(cfg_.out / "best.safetensors")) io::load_model(cfg_.out / "best.safetensors", *model_);
    const bool has_test = test_set_.size() > 0;
    Loader loader(has_test ? test_set_ : val_set_, loader_options(false));
    const Predictions p = predict(*model_, loader);
    ReportInfo info;
    info.title = "skinnet training report: " + cfg_.model;
    info.facts = {{"model", cfg_.model + " (" + std::to_string(model_->parameter_count()) + " parameters)"},
                  {"dataset", data_.data.source},
                  {"evaluated on", std::string(has_test ? "test" : "validation (no test split)") + " split, " +
                                       std::to_string(p.labels.size()) + " images"},
                  {"best epoch", std::to_string(st.best_epoch) + " of " + std::to_string(history_.size()) + " (" +
                                     cfg_.monitor + " " + fixed(st.best_metric) + " on validation)"},
                  {"image size", std::to_string(image_size_)},
                  {"device", D::name}};
    if (!cfg_.command_line.empty()) info.facts.push_back({"command", "`" + cfg_.command_line + "`"});
    const auto path = write_run_report(cfg_.out, p, data_.data.classes, info, history_);
    const Evaluation e = evaluate_predictions(p.labels, p.probs, p.num_classes);
    say("train: ", has_test ? "test" : "validation", " accuracy ", fixed(e.summary.accuracy), ", balanced accuracy ",
        fixed(e.summary.balanced_accuracy), ", macro F1 ", fixed(e.summary.macro.f1), "\n");
    say("train: report ", path.string(), "; model ", (cfg_.out / "best.safetensors").string(), "\n");
    last_evaluation_ = e;
    return path;
  }

 public:
  const Evaluation& last_evaluation() const { return last_evaluation_; }

 private:
  TrainConfig cfg_;
  SplitDataset data_;
  Dataset train_set_, val_set_, test_set_;
  std::unique_ptr<Classifier<D>> model_;
  std::unique_ptr<Optimizer<D>> optimizer_;
  std::unique_ptr<ReduceLrOnPlateau> plateau_;
  SoftmaxCrossEntropy<D> loss_;
  std::vector<EpochLog> history_;
  Evaluation last_evaluation_;
  int image_size_ = 0;
  std::string norm_;
};

}  // namespace skinnet
