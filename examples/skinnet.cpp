// The skinnet command line tool. Each subcommand lives in examples/commands/<name>.hpp.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "commands/info.hpp"

int main(int argc, char** argv) {
  CLI::App app{"skinnet: train and evaluate CNNs on dermatology images"};
  app.require_subcommand(1);
  skinnet::cli::register_info(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const skinnet::Error& e) {
    std::fprintf(stderr, "skinnet: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "skinnet: unexpected error: %s\n", e.what());
    return 2;
  }
  return 0;
}
