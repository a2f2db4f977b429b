#pragma once
// `skinnet train`: train a zoo model on a dataset; writes runs/NAME/ (model, split, log, report).
//   skinnet train --model efficientnet_b0 --data DIR --image-size 224 --epochs 30 --batch 16
//                 --optimizer adam --lr 1e-3 --augment hflip,vflip,rot90 --out runs/NAME --seed 1
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "commands/data_flags.hpp"
#if defined(SKINNET_CUDA_EMULATION)
#include "skinnet/cuda.hpp"
#endif
#include "skinnet/train/trainer.hpp"

namespace skinnet::cli {

inline std::string joined_args(int argc, char** argv) {
  std::string s = "skinnet";
  for (int i = 1; i < argc; ++i) s += std::string(" ") + argv[i];
  return s;
}

inline void check_device(const std::string& device) {
  SKN_REQUIRE(device == "cpu" || device == "cuda", ValueError, "--device must be cpu or cuda, got '", device, "'");
#if !defined(SKINNET_CUDA_EMULATION)
  SKN_REQUIRE(device == "cpu", ValueError,
              "--device cuda: this build of the skinnet tool has no Cuda backend (build it with "
              "SKINNET_CUDA_EMULATION=ON and Boost.Context to run the CUDA kernels on the emulator); use --device cpu");
#endif
}

inline void register_train(CLI::App& app, const std::string& command_line) {
  struct Args {
    TrainConfig cfg;
    DataFlags data;
    std::string device = "cpu";
    std::string activation = "swish";
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  a->cfg.command_line = command_line;
  auto* cmd = app.add_subcommand("train", "Train a model on a skin-image dataset");
  cmd->add_option("--model", a->cfg.model, "Architecture (skinnet info --models lists them)")->capture_default_str();
  add_data_flags(cmd, a->data, true);
  cmd->add_option("--image-size", a->cfg.image_size, "Input side in pixels (default: the model's)");
  cmd->add_option("--epochs", a->cfg.epochs, "Epochs")->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("--batch", a->cfg.batch, "Batch size")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--optimizer", a->cfg.optimizer, "sgd, adam or adamw")->capture_default_str();
  cmd->add_option("--lr", a->cfg.lr, "Learning rate")->capture_default_str();
  cmd->add_option("--weight-decay", a->cfg.weight_decay, "Weight decay (L2 for sgd/adam, decoupled for adamw)")->capture_default_str();
  cmd->add_option("--momentum", a->cfg.momentum, "SGD momentum")->capture_default_str();
  cmd->add_flag("--nesterov", a->cfg.nesterov, "Nesterov momentum (sgd)");
  cmd->add_option("--schedule", a->cfg.schedule, "constant, step, cosine, poly or plateau")->capture_default_str();
  cmd->add_option("--warmup-epochs", a->cfg.warmup_epochs, "Linear warmup (cosine, poly)")->capture_default_str();
  cmd->add_option("--step-epochs", a->cfg.step_epochs, "step schedule: epochs between LR drops")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--gamma", a->cfg.gamma, "step / plateau schedule: LR factor at each drop")
      ->capture_default_str()
      ->check(CLI::Range(1e-6, 1.0));
  cmd->add_option("--plateau-patience", a->cfg.plateau_patience,
                  "plateau schedule: epochs without improvement before a drop")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--label-smoothing", a->cfg.label_smoothing, "Label smoothing")->capture_default_str();
  cmd->add_flag("--class-weights", a->cfg.class_weights, "Weight the loss by inverse class frequency");
  cmd->add_flag("--balanced", a->cfg.balanced, "Class-balanced sampling");
  cmd->add_option("--clip-norm", a->cfg.clip_norm, "Clip the global gradient norm (0: off)")->capture_default_str();
  cmd->add_option("--patience", a->cfg.patience, "Early stopping patience in epochs (0: off)")->capture_default_str();
  cmd->add_option("--monitor", a->cfg.monitor, "balanced_accuracy, accuracy, macro_f1 or loss")->capture_default_str();
  cmd->add_option("--augment", a->cfg.augment, "Augmentations, e.g. hflip,vflip,rot90,rotate=30,zoom=0.1");
  cmd->add_option("--normalization", a->cfg.normalization, "Input preset tf, caffe, torch, raw (default: model's)");
  cmd->add_option("--freeze-epochs", a->cfg.freeze_epochs, "Train only the classifier for N epochs")->capture_default_str();
  cmd->add_option("--nan-policy", a->cfg.nan_policy, "stop, or rollback to the last checkpoint with half the LR")->capture_default_str();
  cmd->add_option("--max-batches", a->cfg.max_batches, "Batches per epoch at most (0: all)")->capture_default_str();
  cmd->add_option("--dropout", a->cfg.model_options.dropout, "Dropout before the classifier (default: model's)");
  cmd->add_option("--width", a->cfg.model_options.width_multiplier, "Channel multiplier (1: the real network)")->capture_default_str();
  cmd->add_option("--activation", a->activation, "EfficientNet activation: swish or mish")->capture_default_str();
  cmd->add_option("--device", a->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--seed", a->cfg.seed, "Seed for weights, split, order and augmentation")->capture_default_str();
  cmd->add_option("--workers", a->cfg.workers, "Data loader threads")->capture_default_str();
  cmd->add_option("--threads", a->threads, "Compute threads (0: all cores)");
  cmd->add_option("--out", a->cfg.out, "Run directory")->capture_default_str();
  cmd->add_flag("--resume", a->cfg.resume, "Continue from OUT/last.safetensors");
  cmd->add_flag("!--no-progress", a->cfg.progress, "No progress output");
  cmd->callback([a] {
    check_device(a->device);
    if (a->threads > 0) set_num_threads(a->threads);
    SKN_REQUIRE(a->activation == "swish" || a->activation == "mish", ValueError, "--activation must be swish or mish");
    a->cfg.model_options.activation = a->activation == "mish" ? Act::Mish : Act::Swish;
    if (a->data.data == "synth" && a->cfg.image_size == 0) a->cfg.image_size = a->data.synth_size;
    a->cfg.extra_metadata = data_metadata(a->data, a->cfg.seed);
    SplitDataset data = open_split_dataset(a->data, a->cfg.seed);
    if (a->device == "cuda") {
#if defined(SKINNET_CUDA_EMULATION)
      std::fprintf(stderr,
                   "note: --device cuda runs skinnet's CUDA kernels on the CPU emulator (this project has no GPU): "
                   "the results are real, the speed is not — use --device cpu for training runs\n");
      Trainer<Cuda> trainer(a->cfg, std::move(data));
      trainer.fit();
#endif
    } else {
      Trainer<Cpu> trainer(a->cfg, std::move(data));
      trainer.fit();
    }
  });
}

}  // namespace skinnet::cli
