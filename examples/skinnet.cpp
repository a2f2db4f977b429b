// The skinnet command line tool. Each subcommand lives in examples/commands/<name>.hpp.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "commands/evaluate.hpp"
#include "commands/info.hpp"
#include "commands/predict.hpp"
#include "commands/synth.hpp"
#include "commands/train.hpp"

int main(int argc, char** argv) {
  CLI::App app{"skinnet: train and evaluate CNNs on dermatology images"};
  app.require_subcommand(1);
  skinnet::cli::register_info(app);
  skinnet::cli::register_train(app, skinnet::cli::joined_args(argc, argv));
  skinnet::cli::register_evaluate(app);
  skinnet::cli::register_predict(app);
  skinnet::cli::register_synth(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const skinnet::Error& e) {
    std::fprintf(stderr, "\nskinnet: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nskinnet: unexpected error: %s\n", e.what());
    return 2;
  }
  return 0;
}
