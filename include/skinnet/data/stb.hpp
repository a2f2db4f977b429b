#pragma once
// The one place skinnet includes stb_image / stb_image_write (Debian libstb-dev: <stb/stb_image.h>).
//
// Why the implementation is compiled here, with *_STATIC: stb libraries are "single-file" — exactly one
// translation unit of a program must define STB_IMAGE_IMPLEMENTATION. A header-only library cannot know
// which TU that is, and defining it in every TU would give duplicate external symbols at link time.
// With STB_IMAGE_STATIC / STB_IMAGE_WRITE_STATIC every function becomes `static`, so each TU that
// includes this header gets its own private copy: no ODR clash, no link step for the user, at the cost
// of some object code per TU (the linker keeps only what is used). The include guard below makes a
// second inclusion in the same TU harmless.
//
// Caveat for users: do not include <stb/stb_image.h> yourself (non-static) in a TU that also includes
// this header; include skinnet's data headers and use the skinnet::decode_image family instead.
//
// Only the formats a dataset of photographs needs are compiled (JPEG, PNG, BMP): a smaller decoder is a
// smaller attack surface for corrupt files. Failure strings are thread-local in this stb version, so
// loader worker threads can decode concurrently.
#ifndef SKINNET_STB_IMPLEMENTATION_INCLUDED
#define SKINNET_STB_IMPLEMENTATION_INCLUDED

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_NO_HDR
#define STBI_NO_LINEAR
// stb's own hard limit stays at its default (2^24 per side): skinnet's ImageLimits (image_io.hpp) are
// checked first and are stricter, and give a clearer message than stb's "too large".

// stb_image checks a few internal invariants with assert(), and a corrupt file can break them (a CI
// fuzz run found a JPEG whose Huffman decode fails stb's code/table check): with assert() that aborts
// the whole program, and under NDEBUG stb carries on silently. Instead the failed check is recorded
// for this thread, and decode_image (image_io.hpp) reports the file as corrupt.
namespace skinnet::detail {
inline thread_local const char* stb_failed_check = nullptr;
}
#define STBI_ASSERT(x) ((x) ? (void)0 : (void)(::skinnet::detail::stb_failed_check = #x))
// stb allocates its decoder state (Huffman tables among it) without clearing it, and a corrupt file can
// make it read entries it never wrote: the outcome then depended on what the heap held before (the
// fuzz finding above reproduced only inside a fuzzing run). Zeroed allocations make every decode of
// the same bytes behave the same way.
#define STBI_MALLOC(sz) std::calloc(1, (sz))
#define STBI_REALLOC(p, newsz) std::realloc((p), (newsz))
#define STBI_FREE(p) std::free(p)

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wcast-qual"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
#endif

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#endif  // SKINNET_STB_IMPLEMENTATION_INCLUDED
