#pragma once
// Model files: a Module's parameters and buffers, by name, in one safetensors file with metadata that
// says how to use it (DESIGN.md §6, §8).
//
//   save_model(path, model, info)            writes every parameter() and buffer() as F32 under its
//                                            dotted name (timm's state_dict keys), atomically, plus
//                                            the ModelInfo as metadata strings
//   load_model(path, model, options)         checks that the file and the model agree on every name
//                                            and shape, and only then copies the values in: a file
//                                            that does not fit leaves the model untouched and throws
//                                            one IoError listing every missing, unexpected and
//                                            mismatched tensor
//   read_model_info(path)                    the metadata alone, e.g. to build the right model first
//
// Works for any device: Cuda tensors are copied through host memory (Tensor::to_vector on save,
// DeviceMemory<D>::from_host on load).
//
// Importing weights trained elsewhere goes through two hooks of LoadOptions:
//   map_name   file name -> model name, or nullopt to skip the entry; the default keeps names and
//              skips BatchNorm's int64 `num_batches_tracked`. name_table() builds one from an explicit
//              table (torchvision's `features.N...` names, Keras layer names).
//   convert    rewrites a tensor into skinnet's layout before the shape check, e.g.
//              io::torch_to_skinnet_layout (OIHW -> HWIO, [out,in] -> [in,out]; see layout.hpp).
//
// Metadata keys (all values are strings, as the format requires):
//   architecture      zoo name, e.g. "efficientnet_b0"
//   class_names       JSON array of strings, in the model's output order, e.g. ["akiec","bcc",...]
//   input_size        square input side in pixels, decimal
//   normalization     input normalisation preset ("tf", "caffe", "torch")
//   skinnet_version   the version that wrote the file
// plus ModelInfo::extra, copied as they are (checkpoints keep step, RNG and loader position there).
#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/io/safetensors.hpp"
#include "skinnet/layers/module.hpp"
#include "skinnet/version.hpp"

namespace skinnet::io {

struct ModelInfo {
  std::string architecture;
  std::vector<std::string> class_names;
  int64_t input_size = 0;  // 0: not recorded
  std::string normalization;
  std::string skinnet_version;  // set by save_model; read back by load_model
  Metadata extra;               // any other metadata
};

namespace model_keys {
inline constexpr const char* kArchitecture = "architecture";
inline constexpr const char* kClassNames = "class_names";
inline constexpr const char* kInputSize = "input_size";
inline constexpr const char* kNormalization = "normalization";
inline constexpr const char* kVersion = "skinnet_version";
inline bool reserved(const std::string& key) {
  return key == kArchitecture || key == kClassNames || key == kInputSize || key == kNormalization || key == kVersion;
}
}  // namespace model_keys

// ModelInfo -> metadata strings. Empty fields are left out.
inline Metadata model_metadata(const ModelInfo& info) {
  Metadata m;
  for (const auto& [key, value] : info.extra) {
    SKN_REQUIRE(!model_keys::reserved(key), ValueError, "ModelInfo::extra: key \"", key,
                "\" is reserved for the ModelInfo field of that name");
    m[key] = value;
  }
  if (!info.architecture.empty()) m[model_keys::kArchitecture] = info.architecture;
  if (!info.class_names.empty()) m[model_keys::kClassNames] = nlohmann::json(info.class_names).dump();
  if (info.input_size > 0) m[model_keys::kInputSize] = std::to_string(info.input_size);
  if (!info.normalization.empty()) m[model_keys::kNormalization] = info.normalization;
  m[model_keys::kVersion] = info.skinnet_version.empty() ? version() : info.skinnet_version;
  return m;
}

// Metadata strings -> ModelInfo; absent keys leave fields empty (a file written by Python may have no
// metadata at all), malformed ones are an IoError naming `source`.
inline ModelInfo model_info_from_metadata(const Metadata& m, const std::string& source) {
  ModelInfo info;
  for (const auto& [key, value] : m) {
    if (key == model_keys::kArchitecture) {
      info.architecture = value;
    } else if (key == model_keys::kNormalization) {
      info.normalization = value;
    } else if (key == model_keys::kVersion) {
      info.skinnet_version = value;
    } else if (key == model_keys::kInputSize) {
      int64_t v = -1;
      std::size_t used = 0;
      try {
        v = std::stoll(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      SKN_REQUIRE(used == value.size() && !value.empty() && v > 0, IoError, source, ": metadata input_size \"",
                  value, "\" is not a positive integer");
      info.input_size = v;
    } else if (key == model_keys::kClassNames) {
      const auto j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
      SKN_REQUIRE(j.is_array(), IoError, source, ": metadata class_names must be a JSON array of strings, found ",
                  detail::quoted(value));
      for (const auto& name : j) {
        SKN_REQUIRE(name.is_string(), IoError, source, ": metadata class_names holds a non-string ", name.dump());
        info.class_names.push_back(name.get<std::string>());
      }
    } else {
      info.extra[key] = value;
    }
  }
  return info;
}

inline ModelInfo read_model_info(const std::filesystem::path& path) {
  SafetensorsReader reader(path);
  return model_info_from_metadata(reader.metadata(), reader.source());
}

// ---- name mapping ---------------------------------------------------------------------------------

// File tensor name -> model tensor name; nullopt skips the entry.
using NameMap = std::function<std::optional<std::string>(const std::string& file_name)>;

// Keeps every name, except BatchNorm's step counter (int64, meaningless to skinnet: its BN momentum
// does not depend on it).
inline std::optional<std::string> default_name_map(const std::string& name) {
  static const std::string kTracked = "num_batches_tracked";
  if (name == kTracked ||
      (name.size() > kTracked.size() && name.compare(name.size() - kTracked.size(), kTracked.size(), kTracked) == 0 &&
       name[name.size() - kTracked.size() - 1] == '.'))
    return std::nullopt;
  return name;
}

// An explicit table (file name -> model name); names not in the table go through `fallback`.
inline NameMap name_table(std::map<std::string, std::string> table, NameMap fallback = default_name_map) {
  return [table = std::move(table), fallback = std::move(fallback)](const std::string& name) -> std::optional<std::string> {
    if (auto it = table.find(name); it != table.end()) return it->second;
    return fallback ? fallback(name) : std::optional<std::string>(name);
  };
}

// Rewrites a tensor read from the file into skinnet's layout; `expected` is the model's shape.
using LayoutConvert = std::function<void(std::vector<int64_t>& shape, std::vector<float>& data, const Shape& expected)>;

struct LoadOptions {
  bool strict = true;                   // false: file entries the model lacks are ignored (listed in LoadResult)
  NameMap map_name = default_name_map;  // see above; empty means identity
  LayoutConvert convert;                // empty: the file is already in skinnet's layout
  std::string architecture;             // non-empty: the file's metadata must name this architecture
};

struct LoadResult {
  ModelInfo info;
  std::vector<std::string> loaded;   // model names that received values
  std::vector<std::string> skipped;  // file names the name map dropped
  std::vector<std::string> ignored;  // file names with no model counterpart (strict = false)
};

namespace detail {

template <class D>
struct ModelTensor {
  std::string name;
  Tensor<D>* tensor;
};

// Parameters then buffers, each once.
template <class D>
std::vector<ModelTensor<D>> model_tensors(Module<D>& model) {
  std::vector<ModelTensor<D>> out;
  for (auto& p : model.parameters()) out.push_back({p.name, &p.param->value});
  for (auto& b : model.buffers()) out.push_back({b.name, b.value});
  std::set<std::string_view> seen;
  for (const auto& t : out)
    SKN_REQUIRE(seen.insert(t.name).second, ValueError, "model ", model.name(), " lists the tensor name ",
                quoted(t.name), " twice (a container forgot a prefix?)");
  return out;
}

// "a, b, c and 7 more": keeps an error message readable when a whole model is missing.
inline std::string name_list(const std::vector<std::string>& names, std::size_t show = 12) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < show; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > show) s += " and " + std::to_string(names.size() - show) + " more";
  return s;
}

inline std::string dims_str(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

}  // namespace detail

// Writes the model's parameters and buffers plus `extra_tensors` (e.g. a checkpoint's "optim.*"
// state, already on the host) to `path`, atomically.
template <class D>
void save_model(const std::filesystem::path& path, Module<D>& model, const ModelInfo& info,
                const std::vector<TensorRef>& extra_tensors = {}) {
  const auto tensors = detail::model_tensors(model);
  std::vector<std::vector<float>> host;  // host copies outlive the write
  host.reserve(tensors.size());
  std::vector<TensorRef> refs;
  refs.reserve(tensors.size() + extra_tensors.size());
  for (const auto& t : tensors) {
    host.push_back(t.tensor->to_vector());
    refs.push_back(tensor_ref(t.name, t.tensor->shape(), host.back().data()));
  }
  refs.insert(refs.end(), extra_tensors.begin(), extra_tensors.end());
  write_safetensors(path, refs, model_metadata(info));
}

// Loads a model from an open reader (a checkpoint loader reads its "optim.*" entries from the same
// reader; it passes a map_name that skips them). All or nothing: on any mismatch nothing is copied.
template <class D>
LoadResult load_model(const SafetensorsReader& reader, Module<D>& model, const LoadOptions& options = {}) {
  const std::string& src = reader.source();
  LoadResult result;
  result.info = model_info_from_metadata(reader.metadata(), src);
  SKN_REQUIRE(options.architecture.empty() || options.architecture == result.info.architecture, IoError, src,
              ": holds a \"", result.info.architecture, "\" model, expected \"", options.architecture, "\"");

  const auto tensors = detail::model_tensors(model);
  std::unordered_map<std::string, std::size_t> by_name;
  for (std::size_t i = 0; i < tensors.size(); ++i) by_name.emplace(tensors[i].name, i);

  // 1. Names (from the header alone): which file entry feeds which model tensor.
  std::vector<const TensorInfo*> source_of(tensors.size(), nullptr);
  std::vector<std::string> unexpected, not_float, mismatched;
  for (const TensorInfo& t : reader.tensors()) {
    const std::optional<std::string> target = options.map_name ? options.map_name(t.name) : t.name;
    if (!target) {
      result.skipped.push_back(t.name);
      continue;
    }
    const auto it = by_name.find(*target);
    if (it == by_name.end()) {
      (options.strict ? unexpected : result.ignored).push_back(t.name);
      continue;
    }
    SKN_REQUIRE(source_of[it->second] == nullptr, IoError, src, ": tensors ", detail::quoted(source_of[it->second]->name),
                " and ", detail::quoted(t.name), " both map to model tensor ", detail::quoted(*target));
    source_of[it->second] = &t;
    if (!dtype_is_floating(t.dtype)) not_float.push_back(t.name + " (" + std::string(dtype_name(t.dtype)) + ")");
  }
  std::vector<std::string> missing;
  for (std::size_t i = 0; i < tensors.size(); ++i)
    if (!source_of[i]) missing.push_back(tensors[i].name);

  // 2. Values and shapes (after the layout conversion), staged on the host.
  std::vector<std::vector<float>> staged(tensors.size());
  if (missing.empty() && unexpected.empty() && not_float.empty()) {
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      std::vector<int64_t> shape = source_of[i]->shape;
      staged[i] = reader.read_floats(*source_of[i]);
      const Shape& expected = tensors[i].tensor->shape();
      if (options.convert) options.convert(shape, staged[i], expected);
      if (shape != shape_dims(expected) || staged[i].size() != static_cast<std::size_t>(expected.numel()))
        mismatched.push_back(tensors[i].name + ": file " + detail::dims_str(shape) + " vs model " +
                             detail::dims_str(shape_dims(expected)));
    }
  }

  if (!missing.empty() || !unexpected.empty() || !not_float.empty() || !mismatched.empty()) {
    std::ostringstream msg;
    msg << src << ": does not fit model " << model.name() << " (nothing was loaded)";
    if (!missing.empty()) msg << "\n  missing from the file (" << missing.size() << "): " << detail::name_list(missing);
    if (!unexpected.empty())
      msg << "\n  not in the model (" << unexpected.size() << "; load with strict = false to ignore): "
          << detail::name_list(unexpected);
    if (!not_float.empty())
      msg << "\n  not floating point (" << not_float.size() << "): " << detail::name_list(not_float);
    if (!mismatched.empty())
      msg << "\n  shape mismatch (" << mismatched.size() << "): " << detail::name_list(mismatched, 6);
    throw IoError(msg.str());
  }

  // 3. Commit.
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    DeviceMemory<D>::from_host(tensors[i].tensor->data(), staged[i].data(), tensors[i].tensor->bytes());
    result.loaded.push_back(tensors[i].name);
  }
  return result;
}

template <class D>
LoadResult load_model(const std::filesystem::path& path, Module<D>& model, const LoadOptions& options = {}) {
  SafetensorsReader reader(path);
  return load_model(reader, model, options);
}

}  // namespace skinnet::io
