#pragma once
// Checkpoints (DESIGN.md §8): one safetensors file holding the model's parameters and buffers, the
// optimizer's "optim.*" state tensors, and everything else a resumed run needs in the metadata: the
// completed epoch, the global step, the learning rate, the best validation metric so far and the
// early-stopping / plateau counters. Written atomically by io::save_model (temp file, fsync, rename),
// so a crash during the write leaves the previous checkpoint intact.
//
// Why resuming at an epoch boundary is bit-exact: the loader's order and augmentation are functions of
// (seed, epoch, position), dropout masks of (seed, layer stream, step), and the optimizer state is
// restored exactly; nothing else carries over between epochs.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "skinnet/io/model_file.hpp"
#include "skinnet/train/optimizer.hpp"

namespace skinnet {

struct TrainState {
  int64_t epochs_done = 0;   // completed epochs
  int64_t step = 0;          // optimizer steps taken
  double lr = 0.0;           // learning rate in force at the end of the last completed epoch
  double best_metric = 0.0;  // best validation metric so far
  int64_t best_epoch = 0;    // 1-based; 0: none yet
  int64_t bad_epochs = 0;    // epochs since the best (early stopping)
  // Multiplier on the configured learning rate: 1, halved by each NaN rollback (--nan-policy rollback).
  // Part of the checkpoint so that a run resumed after a rollback keeps the lower rate.
  double lr_scale = 1.0;
  // ReduceLrOnPlateau::state() (keys "plateau.*"), empty unless the plateau schedule is in use.
  std::map<std::string, double> plateau;
};

namespace checkpoint_detail {
inline std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
inline double number(const io::Metadata& m, const std::string& key, const std::string& src) {
  const auto it = m.find(key);
  SKN_REQUIRE(it != m.end(), IoError, src, ": not a training checkpoint (metadata '", key, "' missing)");
  try {
    return std::stod(it->second);
  } catch (const std::exception&) {
    throw IoError(src + ": checkpoint metadata '" + key + "' is not a number: " + it->second);
  }
}
}  // namespace checkpoint_detail

template <class D>
void save_checkpoint(const std::filesystem::path& path, Module<D>& model, Optimizer<D>& optimizer,
                     io::ModelInfo info, const TrainState& st) {
  using checkpoint_detail::exact;
  info.extra["train.epochs_done"] = std::to_string(st.epochs_done);
  info.extra["train.step"] = std::to_string(st.step);
  info.extra["train.lr"] = exact(st.lr);
  info.extra["train.best_metric"] = exact(st.best_metric);
  info.extra["train.best_epoch"] = std::to_string(st.best_epoch);
  info.extra["train.bad_epochs"] = std::to_string(st.bad_epochs);
  info.extra["train.lr_scale"] = exact(st.lr_scale);
  for (const auto& [key, value] : st.plateau) info.extra["train." + key] = exact(value);
  for (const auto& [name, value] : optimizer.state_counters()) info.extra[name] = std::to_string(value);
  std::vector<std::vector<float>> host;
  std::vector<io::TensorRef> refs;
  auto state = optimizer.state_tensors();
  host.reserve(state.size());
  for (auto& s : state) {
    host.push_back(s.value->to_vector());
    refs.push_back(io::tensor_ref(s.name, s.value->shape(), host.back().data()));
  }
  io::save_model(path, model, info, refs);
}

// Restores model, optimizer and returns the training state. Throws IoError naming the file when it is
// not a checkpoint of this model.
template <class D>
TrainState load_checkpoint(const std::filesystem::path& path, Module<D>& model, Optimizer<D>& optimizer) {
  using checkpoint_detail::number;
  io::SafetensorsReader reader(path);
  io::LoadOptions lo;
  lo.map_name = [](const std::string& n) -> std::optional<std::string> {
    if (Optimizer<D>::is_state_name(n)) return std::nullopt;
    return io::default_name_map(n);
  };
  io::load_model(reader, model, lo);
  const auto& meta = reader.metadata();
  const std::string& src = reader.source();
  TrainState st;
  st.epochs_done = static_cast<int64_t>(number(meta, "train.epochs_done", src));
  st.step = static_cast<int64_t>(number(meta, "train.step", src));
  st.lr = number(meta, "train.lr", src);
  st.best_metric = number(meta, "train.best_metric", src);
  st.best_epoch = static_cast<int64_t>(number(meta, "train.best_epoch", src));
  st.bad_epochs = static_cast<int64_t>(number(meta, "train.bad_epochs", src));
  st.lr_scale = number(meta, "train.lr_scale", src);
  for (const auto& [key, value] : meta)
    if (key.rfind("train.plateau.", 0) == 0) st.plateau[key.substr(6)] = number(meta, key, src);
  optimizer.clear_state();
  for (const auto& t : reader.tensors()) {
    if (!Optimizer<D>::is_state_name(t.name)) continue;
    const auto values = reader.read_floats(t);
    Shape s;
    switch (t.shape.size()) {
      case 1: s = Shape{t.shape[0]}; break;
      case 2: s = Shape{t.shape[0], t.shape[1]}; break;
      case 3: s = Shape{t.shape[0], t.shape[1], t.shape[2]}; break;
      case 4: s = Shape{t.shape[0], t.shape[1], t.shape[2], t.shape[3]}; break;
      default: throw IoError(src + ": optimizer state '" + t.name + "' has an unsupported rank");
    }
    optimizer.restore_state_tensor(t.name, Tensor<Cpu>::from_vector(s, values));
  }
  for (const auto& [key, value] : meta)
    if (Optimizer<D>::is_state_name(key)) optimizer.restore_state_counter(key, std::stoll(value));
  optimizer.check_state();
  return st;
}

}  // namespace skinnet
