// Writes the starting corpora for the fuzzers: small valid JPEG, PNG (RGB, grey, RGBA) and BMP files,
// and a few CSV label files in the supported forms. Usage: make_seeds IMAGE_DIR CSV_DIR
#include <cstdio>
#include <string>

#include "skinnet/data/image_io.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s IMAGE_DIR CSV_DIR\n", argv[0]);
    return 2;
  }
  namespace fs = std::filesystem;
  const fs::path img_dir = argv[1], csv_dir = argv[2];
  fs::create_directories(img_dir);
  fs::create_directories(csv_dir);
  skinnet::Image img(12, 10);
  for (std::size_t i = 0; i < img.bytes(); ++i) img.pixels[i] = static_cast<uint8_t>(i * 7);
  skinnet::write_png(img_dir / "rgb.png", img);
  skinnet::write_jpeg(img_dir / "rgb.jpg", img, 80);
  std::vector<uint8_t> bmp;
  stbi_write_bmp_to_func([](void* c, void* d, int n) {
    auto* v = static_cast<std::vector<uint8_t>*>(c);
    v->insert(v->end(), static_cast<uint8_t*>(d), static_cast<uint8_t*>(d) + n);
  }, &bmp, img.width, img.height, 3, img.pixels.data());
  skinnet::write_bytes(img_dir / "rgb.bmp", bmp);
  for (int comp : {1, 2, 4}) {
    std::vector<uint8_t> px(static_cast<std::size_t>(12 * 10 * comp), 100), out;
    stbi_write_png_to_func([](void* c, void* d, int n) {
      auto* v = static_cast<std::vector<uint8_t>*>(c);
      v->insert(v->end(), static_cast<uint8_t*>(d), static_cast<uint8_t*>(d) + n);
    }, &out, 12, 10, comp, px.data(), 12 * comp);
    skinnet::write_bytes(img_dir / ("c" + std::to_string(comp) + ".png"), out);
  }
  auto text = [&](const char* name, const std::string& s) {
    skinnet::write_bytes(csv_dir / name, std::vector<uint8_t>(s.begin(), s.end()));
  };
  text("ham.csv", "lesion_id,image_id,dx,dx_type,age,sex,localization\nHAM_0000118,ISIC_0027419,bkl,histo,80.0,male,scalp\n");
  text("isic.csv", "image,MEL,NV,BCC,AKIEC,BKL,DF,VASC\nISIC_0024306,0.0,1.0,0.0,0.0,0.0,0.0,0.0\n");
  text("quoted.csv", "path,label\r\n\"a,b.jpg\",\"say \"\"hi\"\"\"\r\n");
  text("augment.txt", "hflip,vflip,rot90,rotate=30,shift=0.1,shear=0.15,zoom=0.1,brightness=0.2,contrast=0.2,hue=0.05,random_resized_crop=0.6");
  return 0;
}
