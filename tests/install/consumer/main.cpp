// A program outside the skinnet tree, built against an installed copy via find_package(skinnet).
#include <skinnet/skinnet.hpp>

#include <cstdio>

int main() {
  auto t = skinnet::Tensor<skinnet::Cpu>::filled(skinnet::Shape{2, 3}, 1.5f);
  float sum = 0;
  for (float v : t.to_vector()) sum += v;
  std::printf("installed skinnet %s: sum=%g\n", skinnet::version(), sum);
  return sum == 9.0f ? 0 : 1;
}
