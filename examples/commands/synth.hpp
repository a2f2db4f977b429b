#pragma once
// `skinnet synth`: write the built-in synthetic dermoscopy set to disk as a folder-per-class dataset
// (out/<class>/<class>_<i>.png), e.g. to look at it or to train on it like any other folder:
//   skinnet synth --out /tmp/synth --per-class 100 --image-size 64 --seed 1
#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "skinnet/data/synth.hpp"

namespace skinnet::cli {

inline void register_synth(CLI::App& app) {
  struct Args {
    std::string out;
    int per_class = 50;
    int image_size = 64;
    uint64_t seed = 0;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("synth", "Write the synthetic dermoscopy dataset as folder-per-class PNGs");
  cmd->add_option("--out", args->out, "Output folder (created)")->required();
  cmd->add_option("--per-class", args->per_class, "Images per class")->check(CLI::Range(1, 1000000));
  cmd->add_option("--image-size", args->image_size, "Image side in pixels (32..224 intended)")->check(CLI::Range(16, 1024));
  cmd->add_option("--seed", args->seed, "Seed: the same seed writes the same images");
  cmd->callback([args] {
    SynthOptions opt;
    opt.per_class = args->per_class;
    opt.image_size = args->image_size;
    opt.seed = args->seed;
    const Dataset d = write_synth_dataset(args->out, opt);
    std::printf("wrote %lld images of %dx%d to %s\n", static_cast<long long>(d.size()), opt.image_size, opt.image_size,
                display_path(args->out).c_str());
    std::printf("%s", class_summary(d).c_str());
  });
}

}  // namespace skinnet::cli
