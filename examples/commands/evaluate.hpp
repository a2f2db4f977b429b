#pragma once
// `skinnet evaluate`: the clinical-style report of a saved model on a dataset.
//   skinnet evaluate --model runs/NAME/best.safetensors --data runs/NAME      (that run's test split)
//   skinnet evaluate --model runs/NAME/best.safetensors --data OTHER_DIR     (every image of OTHER_DIR)
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "commands/data_flags.hpp"
#include "commands/model_loading.hpp"
#include "skinnet/train/run_report.hpp"

namespace skinnet::cli {

inline void register_evaluate(CLI::App& app) {
  struct Args {
    std::string model, out, tta = "none", split = "test";
    DataFlags data;
    int batch = 32, workers = 2;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("evaluate", "Evaluate a saved model: metrics, confusion matrix, report");
  cmd->add_option("--model", a->model, "Model file (.safetensors written by skinnet)")->required();
  add_data_flags(cmd, a->data, false);
  cmd->add_option("--tta", a->tta, "Test-time augmentation: none, flips or flips_rot90")->capture_default_str();
  cmd->add_option("--split", a->split, "With --data runs/NAME: which part to evaluate (test, val, train)")->capture_default_str();
  cmd->add_option("--batch", a->batch, "Batch size")->capture_default_str();
  cmd->add_option("--workers", a->workers, "Data loader threads")->capture_default_str();
  cmd->add_option("--out", a->out, "Report directory (default: next to the model, evaluate_<data>/)");
  cmd->callback([a] {
    namespace fs = std::filesystem;
    LoadedModel m = load_saved_model(a->model);
    Dataset d;
    const bool run_dir = a->data.data != "synth" && fs::exists(fs::path(a->data.data) / "split.csv") && a->data.csv.empty();
    if (run_dir) {
      SplitDataset s = read_split_csv(fs::path(a->data.data) / "split.csv", m.info.class_names);
      attach_synth_generator(s.data, m.info);
      d = s.part(parse_split(a->split));
    } else {
      DataFlags f = a->data;
      f.split = "1:1:0";
      SplitDataset s = open_split_dataset(f, 0);
      d = s.data;  // every image
    }
    SKN_REQUIRE(d.size() > 0, DataError, "evaluate: no images to evaluate in ", a->data.data);
    SKN_REQUIRE(d.classes == m.info.class_names, DataError, "evaluate: the dataset's classes (", d.classes.size(),
                ") differ from the model's (", m.info.class_names.size(), "): ", a->data.data, " vs ", a->model);
    LoaderOptions lo;
    lo.batch_size = a->batch;
    lo.image_size = static_cast<int>(m.info.input_size);
    lo.norm = parse_norm(m.info.normalization);
    lo.workers = a->workers;
    lo.shuffle = false;
    Loader loader(d, lo);
    const Predictions p = predict(*m.model, loader, parse_tta(a->tta), [](int64_t done, int64_t total) {
      std::fprintf(stderr, "\revaluating %lld/%lld", static_cast<long long>(done), static_cast<long long>(total));
    });
    std::fprintf(stderr, "\n");
    fs::path out = a->out.empty() ? fs::path(a->model).parent_path() /
                                        ("evaluate_" + fs::path(a->data.data).filename().string())
                                  : fs::path(a->out);
    ReportInfo info;
    info.title = "skinnet evaluation: " + m.info.architecture;
    info.facts = {{"model", a->model}, {"data", a->data.data + (run_dir ? " (" + a->split + " split)" : "")},
                  {"images", std::to_string(p.labels.size())}, {"test-time augmentation", a->tta}};
    const auto path = write_run_report(out, p, m.info.class_names, info);
    const Evaluation e = evaluate_predictions(p.labels, p.probs, p.num_classes);
    std::printf("%s\n", classification_report_text(e.summary, m.info.class_names).c_str());
    std::printf("accuracy %.4f, balanced accuracy %.4f, macro ROC AUC %.4f, ECE %.4f\n", e.summary.accuracy,
                e.summary.balanced_accuracy, e.roc_auc.macro, e.calibration.ece);
    std::printf("report: %s\n", path.string().c_str());
  });
}

}  // namespace skinnet::cli
