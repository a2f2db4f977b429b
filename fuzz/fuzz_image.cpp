// libFuzzer target: the image front end (format sniffing, header limits, JPEG/BMP completeness checks,
// stb decode), then a resize and an augmentation of whatever decodes. Any input must either decode or
// throw skinnet::Error; a crash, a sanitizer report or another exception type is a bug.
#include <cstddef>
#include <cstdint>

#include "skinnet/data/augment.hpp"
#include "skinnet/data/image_io.hpp"
#include "skinnet/data/resize.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  skinnet::ImageLimits limits;
  limits.max_pixels = 1 << 22;  // keep single inputs well inside libFuzzer's memory limit
  limits.min_side = 1;          // let tiny images through to the decoder and the resizer
  limits.max_aspect = 1e9;
  try {
    const skinnet::Image img = skinnet::decode_image(data, size, "fuzz-input", limits);
    const skinnet::Image small = skinnet::resize(img, 17, 11);
    std::vector<float> out(17 * 11 * 3);
    const auto spec = skinnet::parse_augment("hflip,rotate=30,shear=0.2,zoom=0.2,brightness=0.3,hue=0.1");
    skinnet::augment_into(small, skinnet::draw_augment(spec, size, 0, 0), 17, 11, out.data());
    for (float v : out)
      if (!(v >= 0.0f && v <= 255.0f)) __builtin_trap();
  } catch (const skinnet::Error&) {
    // the documented outcome for a bad file
  }
  return 0;
}
